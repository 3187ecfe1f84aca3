using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// Ctrl-C or SIGTERM the moment the agent says it is watching must still stop it cleanly (summary printed,
/// exit 0): with NET_DM a process killed outright leaves the kernel's drop monitor running. The agent once
/// took its signal handlers from System.CommandLine, registered only after the command's start: a signal sent
/// right after "watching" then killed it outright (exit 130 or 143), in most runs of this test within two rounds.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class StopSignalTests
{
    [Fact]
    public async Task A_signal_right_after_the_start_line_still_ends_in_a_clean_stop_with_a_summary()
    {
        Privileged.RequireRoot();
        using var _ = KernelTestLock.Acquire();
        for (var round = 0; round < 12; round++)
        {
            using var agent = AgentProcess.Start("watch", "--source", "tracepoint", "--json");
            await agent.WaitUntilCapturingAsync();
            if (round % 2 == 0) agent.Interrupt();
            else agent.Terminate();
            var exit = await agent.WaitForExitAsync();
            Assert.True(exit == 0, $"round {round} ({(round % 2 == 0 ? "SIGINT" : "SIGTERM")}): exit {exit}, {agent.Stderr}");
            Assert.Contains(agent.StdoutLines, l => l.Contains("\"type\":\"summary\"", StringComparison.Ordinal));
        }
    }
}
