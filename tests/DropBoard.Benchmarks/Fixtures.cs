namespace DropBoard.Benchmarks;

/// <summary>The test project's recorded fixtures, found from the repository root.</summary>
internal static class Fixtures
{
    public static string Path(params string[] parts) => TestKit.SourceTree.Path(["tests", "DropBoard.Agent.Tests", "Fixtures", .. parts]);
}
