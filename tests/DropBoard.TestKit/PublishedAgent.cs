using System.Diagnostics;

namespace DropBoard.TestKit;

/// <summary>
/// The agent as operators get it: README's <c>dotnet publish src/Agent -c Release -r linux-x64</c>, into a directory of
/// its own. Needs the source tree (found upwards from the test's build output) and, for Native AOT, clang and zlib.
/// </summary>
public sealed partial class PublishedAgent : IDisposable
{
    public string Directory { get; }

    /// <summary>The <c>dropboard-agent</c> executable.</summary>
    public string Executable => Path.Combine(Directory, "dropboard-agent");

    /// <summary>Every file the publish wrote, not counting debug symbols: what a host needs.</summary>
    public IReadOnlyList<string> Files =>
        [.. System.IO.Directory.GetFiles(Directory).Where(f => !f.EndsWith(".dbg", StringComparison.Ordinal) && !f.EndsWith(".pdb", StringComparison.Ordinal))];

    /// <summary>How long the publish took (build included).</summary>
    public TimeSpan Took { get; }

    private PublishedAgent(string directory, TimeSpan took) => (Directory, Took) = (directory, took);

    public static PublishedAgent Publish()
    {
        var repository = SourceTree.Root;
        var output = System.IO.Directory.CreateTempSubdirectory("dropboard-agent-published-").FullName;
        var clock = Stopwatch.StartNew();
        // No build servers left behind: the calling test or benchmark owns every process it starts.
        var (code, stdout, stderr) = Commands.TryRun("dotnet",
            "publish", Path.Combine(repository, "src", "Agent"), "-c", "Release", "-r", "linux-x64", "-o", output,
            "-nodeReuse:false", "-p:UseSharedCompilation=false", "-clp:NoSummary");
        if (code != 0 || !File.Exists(Path.Combine(output, "dropboard-agent")))
            throw new InvalidOperationException($"dotnet publish src/Agent exited {code}:\n{stdout}\n{stderr}");
        return new PublishedAgent(output, clock.Elapsed) { Warnings = [.. stdout.Split('\n').Where(l => Warning().IsMatch(l)).Distinct()] };
    }

    // The compiler's "x.cs(1,2): warning CS8602: ..." and ILC's "ILC : Trim analysis warning IL2026: ..." / "AOT analysis warning IL3050".
    [System.Text.RegularExpressions.GeneratedRegex(@"\bwarning [A-Z]{2,}[0-9]{3,}")]
    private static partial System.Text.RegularExpressions.Regex Warning();

    /// <summary>Build and trim/AOT warnings the publish printed.</summary>
    public IReadOnlyList<string> Warnings { get; private init; } = [];

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
