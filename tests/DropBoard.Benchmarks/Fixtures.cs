namespace DropBoard.Benchmarks;

/// <summary>The test project's recorded fixtures, found from the repository root.</summary>
internal static class Fixtures
{
    public static string Path(params string[] parts)
    {
        // With DROPBOARD_ARTIFACTS the binaries live outside the tree: then this source file's place finds it.
        var dir = RepositoryAbove(AppContext.BaseDirectory) ?? RepositoryAbove(System.IO.Path.GetDirectoryName(SourceFile())!);
        if (dir is null) throw new InvalidOperationException("run the benchmarks from inside the DropBoard repository");
        return System.IO.Path.Combine([dir.FullName, "tests", "DropBoard.Agent.Tests", "Fixtures", .. parts]);
    }

    private static string SourceFile([System.Runtime.CompilerServices.CallerFilePath] string path = "") => path;

    private static DirectoryInfo? RepositoryAbove(string start)
    {
        var dir = new DirectoryInfo(start);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "DropBoard.sln"))) dir = dir.Parent;
        return dir;
    }
}
