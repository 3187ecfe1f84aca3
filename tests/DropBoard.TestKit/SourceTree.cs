using System.Reflection;

namespace DropBoard.TestKit;

/// <summary>The repository's root (the directory of DropBoard.sln), as the build stamped it into this assembly.</summary>
public static class SourceTree
{
    public static string Root { get; } = Find();

    public static string Path(params string[] parts) => System.IO.Path.Combine([Root, .. parts]);

    private static string Find()
    {
        var stamped = typeof(SourceTree).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == "SourceTree").Value!;
        return File.Exists(System.IO.Path.Combine(stamped, "DropBoard.sln"))
            ? stamped
            : throw new InvalidOperationException($"no DropBoard.sln in {stamped}, where this build's sources were: the tests need the source tree");
    }
}
