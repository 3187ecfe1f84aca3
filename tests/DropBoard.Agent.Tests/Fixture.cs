namespace DropBoard.Agent.Tests;

/// <summary>Recorded fixtures copied next to the test assembly.</summary>
internal static class Fixture
{
    public static string Path(params string[] parts) => System.IO.Path.Combine([AppContext.BaseDirectory, "Fixtures", .. parts]);

    public static string Text(params string[] parts) => File.ReadAllText(Path(parts));

    public static byte[] Bytes(params string[] parts) => File.ReadAllBytes(Path(parts));
}
