using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>The tracepoint source's perf rings: their size setting, and what happens where the kernel will not lock that much.</summary>
[Collection(KernelCollection.Name)]
public sealed class TracepointRingTests
{
    [Fact]
    public async Task Under_a_low_locked_memory_limit_the_rings_are_cut_said_on_the_start_line_and_still_count_every_drop()
    {
        Privileged.RequireCommand("setpriv", "util-linux");
        Privileged.RequireCommand("prlimit", "util-linux");
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var before = ns.Snmp("Udp", "RcvbufErrors");

        // As the systemd unit would run it without LimitMEMLOCK: no CAP_IPC_LOCK, RLIMIT_MEMLOCK of 64 KiB. The kernel
        // then allows perf_event_mlock_kb (516 KiB) per CPU for all of root's rings together, far below 4 MiB per CPU.
        using var agent = AgentProcess.StartExecutable("setpriv",
            "--bounding-set", "-ipc_lock", "--", "prlimit", "--memlock=65536:65536", "--",
            "dotnet", Path.Combine(AppContext.BaseDirectory, "dropboard-agent.dll"),
            "watch", "--source", "tracepoint", "--ring-kb", "4096", "--json", "--interval", "0.5", "--netns", ns.Name);
        await agent.WaitUntilCapturingAsync();
        var (sent, received) = UdpTraffic.OverflowReceiveBuffer(ns, 3000, port: 7040);
        agent.Terminate();
        Assert.Equal(0, await agent.WaitForExitAsync());

        Assert.Matches(@"perf rings cut to \d+ KiB per CPU from the 4096 asked \(--ring-kb\) by the locked-memory limit; raise RLIMIT_MEMLOCK", agent.Stderr);
        var rcvbufErrors = ns.Snmp("Udp", "RcvbufErrors") - before;
        Assert.Equal(sent - received, rcvbufErrors);
        var summary = agent.Summary();
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(rcvbufErrors, WatchAgainstKernelCountersTests.Drops(summary, "SOCKET_RCVBUFF", RecordedRingTests.UdpQueueSites).Sum(d => d.Count));
    }

    [Fact]
    public async Task A_ring_size_that_is_not_a_power_of_two_is_refused_with_the_values_to_use()
    {
        using var agent = AgentProcess.Start("watch", "--source", "tracepoint", "--ring-kb", "3000", "--seconds", "1");
        Assert.NotEqual(0, await agent.WaitForExitAsync());
        Assert.Contains("--ring-kb 3000 is not a power of two from 4 to 1048576 (KiB per CPU): try 1024, 4096 or 16384", agent.Stderr);
    }
}
