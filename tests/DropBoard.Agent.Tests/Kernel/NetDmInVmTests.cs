using System.Text.Json;
using System.Text.RegularExpressions;
using DropBoard.Shared.Sites;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// The NET_DM source against a real drop_monitor: Debian's 6.1 kernel booted in a VM (this machine's kernel has
/// no drop_monitor). Real UDP receive-buffer drops in a namespace; the agent's counts must equal the kernel's
/// Udp RcvbufErrors exactly, and dropwatch listening to the same alerts must report the same.
/// </summary>
public sealed partial class NetDmInVmTests
{
    private const int Datagrams = 500;

    [Fact]
    public async Task Summary_mode_counts_equal_RcvbufErrors_and_what_dropwatch_reports_for_the_same_alerts()
    {
        TestVm.Require();
        Privileged.RequireCommand("dropwatch", "dropwatch");
        using var vm = new TestVm();
        // dropwatch starts the monitor; the agent finds it running in summary mode and listens along, so both
        // see the very same alerts. The agent also runs 'modprobe drop_monitor' had dropwatch not needed it first.
        var (code, console) = await vm.RunAsync($"""
            modprobe drop_monitor
            make_netns t
            # Line-buffered, or its "activated" would sit in stdio's buffer until it exits.
            (echo start; sleep 60) | env --default-signal=INT stdbuf -oL dropwatch -l kas >dropwatch.out 2>&1 &
            wait_for dropwatch.out "Kernel monitoring activated" || exit 10
            watch_udp_flood t {Datagrams} --source netdm --seconds 12 || exit 11
            sleep 2
            pkill -INT dropwatch
            sleep 1
            """);
        AssertAgentRanCleanly(vm, code, console);
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

    [Fact]
    public async Task Packet_mode_counts_equal_RcvbufErrors_with_reasons_and_writes_a_pcapng_tshark_reads()
    {
        TestVm.Require();
        Privileged.RequireCommand("tshark", "tshark");
        using var vm = new TestVm();
        var (code, console) = await vm.RunAsync($"""
            make_netns t
            watch_udp_flood t {Datagrams} --source netdm --mode packet --pcap drops.pcapng --seconds 12 || exit 11
            """);
        AssertAgentRanCleanly(vm, code, console);
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

    [Fact]
    public async Task The_monitor_is_stopped_on_Ctrl_C_and_SIGTERM_and_a_killed_agent_leaves_a_clear_way_out()
    {
        TestVm.Require();
        using var vm = new TestVm();
        // A second agent can start the monitor only if the first one stopped it (the kernel refuses a second start).
        var (code, console) = await vm.RunAsync("""
            for signal in INT TERM; do
                # Background jobs of a script ignore SIGINT unless told otherwise: give the agent a terminal's Ctrl-C.
                env --default-signal=INT $AGENT watch >/dev/null 2>$signal.err &
                agent=$!
                wait_for $signal.err "watching" 90 || exit 11
                kill -$signal $agent; wait $agent; echo $? >$signal.exit
            done
            $AGENT watch --source netdm >/dev/null 2>killed.err &
            agent=$!
            wait_for killed.err "watching" 90 || exit 12
            kill -KILL $agent; wait $agent
            $AGENT watch --source netdm --mode packet --seconds 1 >/dev/null 2>refused.err; echo $? >refused.exit
            $AGENT netdm-stop 2>netdm-stop.err; echo $? >netdm-stop.exit
            $AGENT watch --source netdm --seconds 1 >/dev/null 2>after.err; echo $? >after.exit
            """);
        Assert.True(code == 0, console);
        foreach (var signal in new[] { "INT", "TERM" })
        {
            Assert.Contains("using NET_DM in summary mode (the kernel has it)", vm.Read($"{signal}.err"));
            Assert.Equal("0", vm.Read($"{signal}.exit").Trim());
        }
        Assert.Equal("3", vm.Read("refused.exit").Trim());
        Assert.Contains("already running", vm.Read("refused.err"));
        Assert.Contains("dropboard-agent netdm-stop", vm.Read("refused.err"));
        Assert.Equal("0", vm.Read("netdm-stop.exit").Trim());
        Assert.Equal("0", vm.Read("after.exit").Trim());
        Assert.Contains("using NET_DM", vm.Read("after.err"));
    }

    /// <summary>The VM ran the whole script and the agent in it exited 0.</summary>
    private static void AssertAgentRanCleanly(TestVm vm, int code, string console)
    {
        Assert.True(code == 0, console + vm.Read("agent.err"));
        Assert.Equal("0", vm.Read("agent.exit").Trim());
    }

    private static JsonElement Summary(string jsonLines) =>
        JsonDocument.Parse(jsonLines.Split('\n').Last(l => l.Contains("\"type\":\"summary\"", StringComparison.Ordinal))).RootElement;

    private static Dictionary<string, long> AgentSites(string jsonLines) =>
        Summary(jsonLines).GetProperty("drops").EnumerateArray()
            .GroupBy(d => d.GetProperty("site").GetString()!)
            .ToDictionary(g => g.Key, g => g.Sum(d => d.GetProperty("count").GetInt64()));

    [GeneratedRegex(@"^(?<count>\d+) drops at (?<site>\S+) \(0x[0-9a-f]+\)", RegexOptions.Multiline)]
    private static partial Regex DropwatchLine();
}
