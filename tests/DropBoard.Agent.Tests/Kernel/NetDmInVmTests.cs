using System.Text.Json;
using System.Text.RegularExpressions;
using DropBoard.Shared.Sites;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// The NET_DM source against a real drop_monitor: Debian's 6.1 kernel booted in a VM (this machine's kernel has
/// no drop_monitor). Real UDP receive-buffer drops in a namespace; the agent's counts must equal the kernel's
/// Udp RcvbufErrors exactly, and dropwatch listening to the same alerts must report the same. The tests share one
/// boot: each runs its own section of it (<see cref="Vm"/>) and asserts on what that section left.
/// </summary>
public sealed partial class NetDmInVmTests(NetDmInVmTests.Vm boot) : IClassFixture<NetDmInVmTests.Vm>
{
    // A few datagrams fit in the buffer; every other one is a drop that all counts must agree on.
    private const int Datagrams = 200;

    public sealed class Vm() : SharedTestVm(("summary", SummaryScript), ("packet", PacketScript), ("stop", StopScript));

    // dropwatch starts the monitor; the agent finds it running in summary mode and listens along, so both
    // see the very same alerts. The agent also runs 'modprobe drop_monitor' had dropwatch not needed it first.
    private static readonly string SummaryScript = $"""
            modprobe drop_monitor
            make_netns t
            # Line-buffered, or its "activated" would sit in stdio's buffer until it exits. Ctrl-C stops its monitor
            # and brings back its prompt, which then reads "exit" (once dropwatch.stop exists) and ends.
            (echo start; while [ ! -e dropwatch.stop ]; do sleep 0.2; done; echo exit) | env --default-signal=INT stdbuf -oL dropwatch -l kas >dropwatch.out 2>&1 &
            wait_for dropwatch.out "Kernel monitoring activated" || exit 10
            watch_udp_flood t {Datagrams} --source netdm || exit 11
            # dropwatch got the same alerts as the agent: wait until it has printed them all, then stop it.
            wait_for_dropwatch_sum dropwatch.out udp_queue_rcv_one_skb "$(cat rcvbuf-errors)" 60
            pkill -INT -x dropwatch
            touch dropwatch.stop
            i=0; while pgrep -x dropwatch >/dev/null && [ $i -lt 300 ]; do sleep 0.2; i=$((i + 1)); done
            """;

    [Fact]
    public async Task Summary_mode_counts_equal_RcvbufErrors_and_what_dropwatch_reports_for_the_same_alerts()
    {
        TestVm.Require();
        Privileged.RequireCommand("dropwatch", "dropwatch");
        var vm = await boot.SectionAsync("summary");
        AssertAgentRanCleanly(vm);
        Assert.Contains("sharing the drop monitor", vm.Read("agent.err"));

        var rcvbufErrors = int.Parse(vm.Read("rcvbuf-errors"));
        Assert.InRange(rcvbufErrors, Datagrams - 20, Datagrams); // a few fit in the buffer
        var agent = AgentSites(vm.Read("agent.json"));
        Assert.Equal(rcvbufErrors, agent.Where(s => s.Key.StartsWith("udp_queue_rcv_one_skb+", StringComparison.Ordinal)).Sum(s => s.Value));

        // "296 drops at udp_queue_rcv_one_skb+40b (0xffffffffa2aba8db) [software]", one line per alert and site.
        var dropwatch = DropwatchLine().Matches(vm.Read("dropwatch.out"))
            .GroupBy(m => DropSite.TryParse(m.Groups["site"].Value, out var site) ? site.ToString() : m.Groups["site"].Value)
            .ToDictionary(g => g.Key, g => g.Sum(m => long.Parse(m.Groups["count"].Value)));
        Assert.Equal(dropwatch.OrderBy(s => s.Key), agent.OrderBy(s => s.Key));
    }

    private static readonly string PacketScript = $"""
            make_netns t
            watch_udp_flood t {Datagrams} --source netdm --mode packet --pcap drops.pcapng || exit 11
            """;

    [Fact]
    public async Task Packet_mode_counts_equal_RcvbufErrors_with_reasons_and_writes_a_pcapng_tshark_reads()
    {
        TestVm.Require();
        Privileged.RequireCommand("tshark", "tshark");
        var vm = await boot.SectionAsync("packet");
        AssertAgentRanCleanly(vm);
        Assert.Contains("using NET_DM in packet mode", vm.Read("agent.err"));

        var rcvbufErrors = int.Parse(vm.Read("rcvbuf-errors"));
        var summary = Summary(vm.Read("agent.json"));
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        var byReason = summary.GetProperty("drops").EnumerateArray()
            .GroupBy(d => d.GetProperty("reason").GetString())
            .ToDictionary(g => g.Key ?? "", g => g.Sum(d => d.GetProperty("count").GetInt64()));
        Assert.Equal(rcvbufErrors, byReason["SOCKET_RCVBUFF"]);

        var (tshark, stdout, stderr) = await Task.Run(() => Commands.TryRun("tshark", "-r", vm.PathOf("drops.pcapng"), "-Y", "udp.dstport == 5000", "-T", "fields", "-e", "frame.comment"));
        Assert.True(tshark == 0, stderr);
        Assert.Equal(rcvbufErrors, stdout.Split('\n').Count(l => l.StartsWith("dropped at udp_queue_rcv_one_skb+", StringComparison.Ordinal) && l.Contains("reason SOCKET_RCVBUFF", StringComparison.Ordinal)));
    }

    private const string StopScript = """
            modprobe drop_monitor
            netdm_refs >start.refs
            # Named, not auto: on this kernel (BTF) auto picks the eBPF source, which starts no monitor.
            for signal in INT TERM; do
                # Background jobs of a script ignore SIGINT unless told otherwise: give the agent a terminal's Ctrl-C.
                env --default-signal=INT $AGENT watch --source netdm >/dev/null 2>$signal.err &
                agent=$!
                wait_for $signal.err "watching" 90 || exit 11
                netdm_refs >$signal.during
                kill -$signal $agent; wait $agent; echo $? >$signal.exit
                netdm_refs >$signal.after
            done
            $AGENT watch --source netdm --seconds 1 >/dev/null 2>seconds.err; echo $? >seconds.exit
            netdm_refs >seconds.after
            # An exception out of the watch loop: standard output on a full device fails the first line the agent
            # prints (the drops of a flood), and the agent ends on its own with the exception.
            make_netns t
            $AGENT watch --source netdm --netns t >/dev/full 2>crash.err &
            agent=$!
            wait_for crash.err "watching" 90 || exit 13
            netdm_refs >crash.during
            udp_flood t 50
            wait $agent; echo $? >crash.exit
            netdm_refs >crash.after
            # SIGKILL: nothing in the agent runs, the monitor stays on until netdm-stop.
            $AGENT watch --source netdm >/dev/null 2>killed.err &
            agent=$!
            wait_for killed.err "watching" 90 || exit 12
            kill -KILL $agent; wait $agent
            netdm_refs >killed.after
            $AGENT watch --source netdm --mode packet --seconds 1 >/dev/null 2>refused.err; echo $? >refused.exit
            $AGENT netdm-stop 2>netdm-stop.err; echo $? >netdm-stop.exit
            netdm_refs >netdm-stop.after
            $AGENT watch --source netdm --seconds 1 >/dev/null 2>after.err; echo $? >after.exit
            netdm_refs >after.after
            """;

    /// <summary>
    /// After every way the agent ends, the kernel's drop monitor is off: the kernel's own reference count on
    /// drop_monitor (it holds one while software monitoring runs, one more for hardware), read after each exit,
    /// is 0, and was not while the agent ran. A second agent's start line alone could not tell: it would find a
    /// monitor left running in the mode it wants, share it, and still say "using NET_DM". Each agent's start line
    /// must also show it started the monitor itself (no "sharing"), so what it stopped was its own.
    /// </summary>
    [Fact]
    public async Task The_monitor_is_off_after_Ctrl_C_SIGTERM_seconds_and_a_crash_and_a_killed_agent_leaves_a_clear_way_out()
    {
        TestVm.Require();
        var vm = await boot.SectionAsync("stop");
        Assert.True(vm.ExitCode == 0, vm.Output);
        Assert.Equal(0, Refs(vm, "start.refs"));
        // In the order the script ran them: each agent started the monitor itself, the kernel saw it on, and off after.
        foreach (var (run, how) in new[] { ("INT", "Ctrl-C"), ("TERM", "SIGTERM") })
        {
            AssertStartedItsOwnMonitor(vm, run);
            Assert.True(Refs(vm, $"{run}.during") > 0, $"the kernel showed no monitor running while the agent watched ({how} round)");
            Assert.True(vm.Read($"{run}.exit").Trim() == "0", $"exit {vm.Read($"{run}.exit").Trim()} after {how}: {vm.Read($"{run}.err")}");
            Assert.True(Refs(vm, $"{run}.after") == 0, $"the kernel's drop monitor is still on after {how}: {vm.Read($"{run}.err")}");
        }
        AssertStartedItsOwnMonitor(vm, "seconds");
        Assert.True(vm.Read("seconds.exit").Trim() == "0", $"exit {vm.Read("seconds.exit").Trim()} after --seconds: {vm.Read("seconds.err")}");
        Assert.True(Refs(vm, "seconds.after") == 0, $"the kernel's drop monitor is still on after --seconds: {vm.Read("seconds.err")}");

        AssertStartedItsOwnMonitor(vm, "crash");
        Assert.True(Refs(vm, "crash.during") > 0, "the kernel showed no monitor running while the agent watched (crash round)");
        Assert.NotEqual("0", vm.Read("crash.exit").Trim());
        Assert.Contains("No space left on device", vm.Read("crash.err"));
        Assert.True(Refs(vm, "crash.after") == 0, $"the kernel's drop monitor is still on after the agent ended with an exception: {vm.Read("crash.err")}");

        // Killed outright: the kernel's monitor stays on, a new start is refused with the way out, which works.
        AssertStartedItsOwnMonitor(vm, "killed");
        Assert.True(Refs(vm, "killed.after") > 0, "a monitor whose agent was killed with SIGKILL should still run");
        Assert.Equal("3", vm.Read("refused.exit").Trim());
        Assert.Contains("already running", vm.Read("refused.err"));
        Assert.Contains("dropboard-agent netdm-stop", vm.Read("refused.err"));
        Assert.Equal("0", vm.Read("netdm-stop.exit").Trim());
        Assert.Equal(0, Refs(vm, "netdm-stop.after"));
        AssertStartedItsOwnMonitor(vm, "after");
        Assert.Equal("0", vm.Read("after.exit").Trim());
        Assert.Equal(0, Refs(vm, "after.after"));
    }

    /// <summary>The agent's stderr is its start line saying it started NET_DM itself, and nothing that went wrong.</summary>
    private static void AssertStartedItsOwnMonitor(TestVmSection vm, string run)
    {
        var err = vm.Read($"{run}.err");
        Assert.True(!err.Contains("sharing the drop monitor", StringComparison.Ordinal),
            $"the agent of the {run} round found the kernel's monitor already running and shared it: the agent before it left it on.\n{err}");
        Assert.True(err.Contains($"dropboard-agent: using NET_DM in summary mode (asked for); watching", StringComparison.Ordinal), $"{run} round: {err}");
        Assert.DoesNotContain("stopping the drop monitor failed", err);
        Assert.DoesNotContain("malformed records", err);
    }

    /// <summary>References the kernel holds on drop_monitor, as the guest read them (netdm_refs).</summary>
    private static int Refs(TestVmSection vm, string file) =>
        int.TryParse(vm.Read(file).Trim(), out var refs) ? refs : throw new InvalidOperationException($"{file}: '{vm.Read(file)}'");

    /// <summary>The VM ran the whole script and the agent in it exited 0.</summary>
    internal static void AssertAgentRanCleanly(TestVmSection vm)
    {
        Assert.True(vm.ExitCode == 0, vm.Output + vm.Read("agent.err"));
        Assert.Equal("0", vm.Read("agent.exit").Trim());
    }

    internal static JsonElement Summary(string jsonLines) =>
        JsonDocument.Parse(jsonLines.Split('\n').Last(l => l.Contains("\"type\":\"summary\"", StringComparison.Ordinal))).RootElement;

    private static Dictionary<string, long> AgentSites(string jsonLines) =>
        Summary(jsonLines).GetProperty("drops").EnumerateArray()
            .GroupBy(d => d.GetProperty("site").GetString()!)
            .ToDictionary(g => g.Key, g => g.Sum(d => d.GetProperty("count").GetInt64()));

    [GeneratedRegex(@"^(?<count>\d+) drops at (?<site>\S+) \(0x[0-9a-f]+\)", RegexOptions.Multiline)]
    private static partial Regex DropwatchLine();
}
