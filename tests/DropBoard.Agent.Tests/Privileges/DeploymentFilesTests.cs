using System.Runtime.Versioning;
using DropBoard.Agent.Privileges;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Privileges;

/// <summary>The systemd unit is valid as systemd itself reads it, and it and docker-compose.yml start the agent with exactly the start set.</summary>
[SupportedOSPlatform("linux")]
public sealed class DeploymentFilesTests
{
    private static readonly string Root = SourceTree.Root;

    [Fact]
    public void The_service_unit_passes_systemd_analyze_verify_without_a_warning()
    {
        Privileged.RequireCommand("systemd-analyze", "systemd");
        var dir = Directory.CreateTempSubdirectory("dropboard-unit-");
        try
        {
            // ExecStart must name an executable that exists: the unit's own path, moved into the temporary directory.
            var agent = Path.Combine(dir.FullName, "dropboard-agent");
            File.WriteAllText(agent, "#!/bin/sh\nexit 0\n");
            File.SetUnixFileMode(agent, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            var unit = File.ReadAllText(Path.Combine(Root, "deploy", "dropboard-agent.service"));
            Assert.Contains("ExecStart=/usr/local/bin/dropboard-agent ", unit);
            var copy = Path.Combine(dir.FullName, "dropboard-agent.service");
            File.WriteAllText(copy, unit.Replace("/usr/local/bin/dropboard-agent", agent));

            var (code, stdout, stderr) = Commands.TryRun("systemd-analyze", "verify", copy);

            Assert.True(code == 0 && stdout.Length == 0 && stderr.Length == 0, $"systemd-analyze verify exited {code}: {stdout}{stderr}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void The_unit_bounds_the_agent_to_the_start_set_and_switches_user()
    {
        var lines = File.ReadAllLines(Path.Combine(Root, "deploy", "dropboard-agent.service"));
        var bounding = Value(lines, "CapabilityBoundingSet").Split(' ', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(Names(PrivilegePlan.StartSet), bounding.Order());
        Assert.Equal("", Value(lines, "AmbientCapabilities"));
        Assert.Equal("yes", Value(lines, "NoNewPrivileges"));
        Assert.Contains("--user dropboard-agent", Value(lines, "ExecStart"));
        Assert.Contains("--spool /var/lib/dropboard-agent/spool", Value(lines, "ExecStart"));
        Assert.Contains("dropboard-agent/spool", Value(lines, "StateDirectory").Split(' '));
    }

    [Fact]
    public void Compose_gives_the_agent_the_start_set_and_nothing_else()
    {
        var lines = File.ReadAllLines(Path.Combine(Root, "docker-compose.yml"));
        var agent = lines.SkipWhile(l => l != "  agent:").Skip(1).TakeWhile(l => l.Length == 0 || l.StartsWith("    ", StringComparison.Ordinal)).ToList();
        string[] List(string key) => agent.SkipWhile(l => l.Trim() != key + ":").Skip(1).TakeWhile(l => l.TrimStart().StartsWith("- ", StringComparison.Ordinal))
            .Select(l => l.Trim()[2..]).ToArray();

        Assert.Equal(Names(PrivilegePlan.StartSet), List("cap_add").Select(c => "CAP_" + c).Order());
        Assert.Equal(["ALL"], List("cap_drop"));
        Assert.Contains("    read_only: true", agent);
        Assert.DoesNotContain(agent, l => l.Contains("privileged", StringComparison.Ordinal) || l.Contains("/sys/kernel/debug", StringComparison.Ordinal));
        Assert.Contains(agent, l => l.Contains("\"--user\", \"dropboard\"", StringComparison.Ordinal));
    }

    private static IOrderedEnumerable<string> Names(CapabilitySet set) => set.ToString().Split(' ').Order();

    private static string Value(string[] lines, string key) =>
        lines.Single(l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 1)..];
}
