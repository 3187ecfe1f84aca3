using System.Globalization;
using System.Runtime.Versioning;
using System.Text.Json;
using DropBoard.Agent.Tests.Kernel;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Privileges;

/// <summary>
/// The real agent started as root with <c>--user nobody</c>: what the kernel says about every one of its threads
/// (/proc/PID/task/TID/status, read by the test) must be the documented result of the drop, and it must still count
/// every drop of a receive-buffer flood in a network namespace exactly as that namespace's own counter does.
/// </summary>
[SupportedOSPlatform("linux")]
[Collection(KernelCollection.Name)]
public sealed class DroppedPrivilegesAgainstKernelTests
{
    private static readonly string[] UdpQueueSites = ["__udp_enqueue_schedule_skb", "udp_queue_rcv_one_skb", "udp_queue_rcv_skb"];
    private const ulong CapSyslog = 1UL << 34;

    [Fact]
    public async Task As_nobody_every_thread_has_no_capability_but_the_kept_one_and_the_drops_still_equal_RcvbufErrors()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var errorsBefore = ns.Snmp("Udp", "RcvbufErrors");
        using var agent = AgentProcess.Start("watch", "--source", "tracepoint", "--json", "--interval", "0.5", "--netns", ns.Name, "--user", "nobody");
        await agent.WaitUntilCapturingAsync();

        // README: on the tracepoint only CAP_SYSLOG may stay, and only where kallsyms hides addresses from others.
        var expectedKept = KallsymsHidesAddresses() ? CapSyslog : 0;
        var threads = Directory.GetDirectories($"/proc/{agent.Id}/task").Select(t => Status(Path.Combine(t, "status"))).ToList();
        Assert.True(threads.Count > 5, $"the agent has {threads.Count} threads");
        foreach (var thread in threads)
        {
            Assert.Equal(("65534 65534 65534 65534", "65534 65534 65534 65534", ""), (Words(thread["Uid"]), Words(thread["Gid"]), thread["Groups"]));
            Assert.Equal(("1", 0UL, 0UL), (thread["NoNewPrivs"], Hex(thread["CapInh"]), Hex(thread["CapAmb"])));
        }
        var keepers = threads.Where(t => Hex(t["CapPrm"]) != 0 || Hex(t["CapEff"]) != 0).ToList();
        if (expectedKept == 0)
        {
            Assert.Empty(keepers);
        }
        else
        {
            var keeper = Assert.Single(keepers);
            Assert.Equal(("privileged", expectedKept, expectedKept, expectedKept), (keeper["Name"], Hex(keeper["CapPrm"]), Hex(keeper["CapEff"]), Hex(keeper["CapBnd"])));
        }
        // The process's own line (its main thread) as `grep Cap /proc/PID/status` shows it.
        var main = Status($"/proc/{agent.Id}/status");
        Assert.Equal((0UL, 0UL, 0UL, "1"), (Hex(main["CapPrm"]), Hex(main["CapEff"]), Hex(main["CapAmb"]), main["NoNewPrivs"]));
        Assert.Contains("now user nobody (uid 65534, gid 65534)", agent.Stderr);
        Assert.Contains("as user nobody: --netns", agent.Stderr);

        var (sent, received) = UdpTraffic.OverflowReceiveBuffer(ns, 3000, port: 7101);
        agent.Terminate();
        var exit = await agent.WaitForExitAsync();
        Assert.True(exit == 0, $"agent exited {exit}: {agent.Stderr}");

        var rcvbufErrors = ns.Snmp("Udp", "RcvbufErrors") - errorsBefore;
        Assert.True(rcvbufErrors > 1000, $"the flood should overflow the queue; RcvbufErrors rose by {rcvbufErrors}");
        Assert.Equal(sent - received, rcvbufErrors);
        var summary = agent.Summary();
        Assert.Equal("tracepoint", summary.GetProperty("source").GetString());
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(rcvbufErrors, summary.GetProperty("drops").EnumerateArray()
            .Where(d => d.GetProperty("reason").GetString() == "SOCKET_RCVBUFF" && UdpQueueSites.Contains(d.GetProperty("function").GetString()))
            .Sum(d => d.GetProperty("count").GetInt64()));
        // Counted through files opened in the namespace before the drop.
        Assert.Equal(rcvbufErrors, Counter(summary, "Udp.RcvbufErrors"));
    }

    [Fact]
    public async Task A_spool_the_user_cannot_write_stops_the_run_agent_with_the_fix()
    {
        Privileged.RequireRoot();
        var spool = Directory.CreateTempSubdirectory("dropboard-root-spool-");
        try
        {
            File.SetUnixFileMode(spool.FullName, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                                                 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            using var agent = AgentProcess.Start("run", "--server", "http://127.0.0.1:9", "--token", "t", "--spool", spool.FullName,
                "--source", "tracepoint", "--user", "nobody");

            Assert.Equal(8, await agent.WaitForExitAsync());
            Assert.Contains($"user nobody cannot write the spool directory {spool.FullName}", agent.Stderr);
            Assert.Contains($"Fix: chown nobody {spool.FullName}", agent.Stderr);
            Assert.Empty(spool.GetFiles());
        }
        finally
        {
            spool.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task An_unknown_user_stops_the_agent_before_it_watches()
    {
        Privileged.RequireRoot();
        using var agent = AgentProcess.Start("watch", "--source", "tracepoint", "--seconds", "30", "--user", "no-such-dropboard-user");

        Assert.Equal(8, await agent.WaitForExitAsync());
        Assert.Contains("--user no-such-dropboard-user: no such user", agent.Stderr);
        Assert.DoesNotContain("; watching", agent.Stderr);
    }

    /// <summary>kallsyms_show_value(): addresses for everyone only with kptr_restrict 0 and perf_event_paranoid at most 1.</summary>
    private static bool KallsymsHidesAddresses() =>
        !(Sysctl("kptr_restrict") == 0 && Sysctl("perf_event_paranoid") <= 1);

    private static int Sysctl(string name) => int.Parse(File.ReadAllText($"/proc/sys/kernel/{name}").Trim(), CultureInfo.InvariantCulture);

    private static Dictionary<string, string> Status(string path) =>
        File.ReadAllLines(path).Where(l => l.Contains(':')).ToDictionary(l => l[..l.IndexOf(':')], l => l[(l.IndexOf(':') + 1)..].Trim());

    private static string Words(string value) => string.Join(' ', value.Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries));

    private static ulong Hex(string value) => ulong.Parse(value, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);

    private static long Counter(JsonElement summary, string name) =>
        summary.GetProperty("counters").EnumerateArray().Where(c => c.GetProperty("name").GetString() == name).Sum(c => c.GetProperty("delta").GetInt64());
}
