namespace DropBoard.Benchmarks;

/// <summary>The test project's recorded fixtures, found from the repository root.</summary>
internal static class Fixtures
{
    public static string Path(params string[] parts)
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(System.IO.Path.Combine(dir.FullName, "DropBoard.sln"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException("run the benchmarks from inside the DropBoard repository");
        return System.IO.Path.Combine([dir.FullName, "tests", "DropBoard.Agent.Tests", "Fixtures", .. parts]);
    }
}
