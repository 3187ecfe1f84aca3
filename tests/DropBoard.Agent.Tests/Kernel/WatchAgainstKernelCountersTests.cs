using System.Text.Json;
using DropBoard.Agent.Counters;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// The agent CLI, run as a real process on the <c>skb:kfree_skb</c> tracepoint or the eBPF program on it (named: on a
/// kernel with drop_monitor <c>--source auto</c> could pick NET_DM summary mode, which has no reasons), against real drops made in a fresh
/// network namespace: what it reports must equal the namespace's own counters exactly. Capture is machine-wide, so
/// every assertion counts only the test's own site and reason: a drop elsewhere on the host (a TCP reset, a
/// firewall) must not break it.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class WatchAgainstKernelCountersTests
{
    private static readonly string[] UdpQueueSites = ["__udp_enqueue_schedule_skb", "udp_queue_rcv_one_skb", "udp_queue_rcv_skb"];
    private static readonly string[] UdpNoPortSites = ["__udp4_lib_rcv"];
    // Where a netfilter DROP verdict frees the packet: nf_hook_slow, or nft_do_chain itself with iptables-nft on 6.18.
    private static readonly string[] NetfilterSites = ["nf_hook_slow", "nft_do_chain", "ipt_do_table"];
    private static readonly string[] PingSites = ["ping_rcv"];

    [Theory]
    [InlineData("tracepoint")]
    [InlineData("bpf")]
    public async Task Receive_buffer_overflow_drops_equal_Udp_RcvbufErrors_and_sent_minus_received(string source)
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var before = Snmp(ns);
        const int datagrams = 3000;

        // The helper returns once every datagram was read back or counted as dropped: nothing more to wait for.
        var (summary, stats) = await WatchWhile(source, ns, () => UdpTraffic.OverflowReceiveBuffer(ns, datagrams, port: 7001), done: null);
        var (sent, received) = stats;

        var after = Snmp(ns);
        var rcvbufErrors = Delta(before, after, "Udp.RcvbufErrors");
        Assert.True(rcvbufErrors > 1000, $"the flood should overflow the queue; RcvbufErrors rose by {rcvbufErrors}");
        Assert.Equal(sent - received, rcvbufErrors);

        Assert.Equal(rcvbufErrors, Drops(summary, "SOCKET_RCVBUFF", UdpQueueSites).Sum(d => d.Count));
        Assert.Equal(rcvbufErrors, CounterInSummary(summary, "Udp.RcvbufErrors"));
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        AssertAttributed(summary, "Udp.RcvbufErrors", rcvbufErrors, "SOCKET_RCVBUFF", UdpQueueSites);
        AssertAttributed(summary, "Udp.InErrors", rcvbufErrors, "SOCKET_RCVBUFF", UdpQueueSites);
    }

    [Theory]
    [InlineData("tracepoint")]
    [InlineData("bpf")]
    public async Task Datagrams_to_a_closed_port_equal_Udp_NoPorts(string source)
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var before = Snmp(ns);

        var (summary, _) = await WatchWhile(source, ns, () => { UdpTraffic.SendTo(ns, 777, port: 7002); return 0; },
            () => ns.Snmp("Udp", "NoPorts") - (long)before.Values["Udp.NoPorts"] >= 777);

        var noPorts = Delta(before, Snmp(ns), "Udp.NoPorts");
        Assert.Equal(777, noPorts);
        Assert.Equal(noPorts, Drops(summary, "NO_SOCKET", UdpNoPortSites).Sum(d => d.Count));
        Assert.Equal(noPorts, CounterInSummary(summary, "Udp.NoPorts"));
        AssertAttributed(summary, "Udp.NoPorts", noPorts, "NO_SOCKET", UdpNoPortSites);
    }

    [Theory]
    [InlineData("tracepoint")]
    [InlineData("bpf")]
    public async Task An_iptables_DROP_rule_shows_as_NETFILTER_DROP_once_per_datagram(string source)
    {
        Privileged.RequireCommand("iptables", "iptables");
        using var ns = NetNamespace.Create();
        ns.Exec("iptables", "-A", "INPUT", "-p", "udp", "--dport", "7003", "-j", "DROP");
        using var _ = KernelTestLock.Acquire();
        var before = Snmp(ns);

        var (summary, _) = await WatchWhile(source, ns, () => { UdpTraffic.SendTo(ns, 555, port: 7003); return 0; }, () => RuleDrops(ns) >= 555);

        Assert.Equal(555, RuleDrops(ns));
        Assert.Equal(555, Drops(summary, "NETFILTER_DROP", NetfilterSites).Sum(d => d.Count));
        // Dropped before UDP saw them: no UDP counter may claim these datagrams, and the summary says no counter sees them.
        Assert.Equal(0, Delta(before, Snmp(ns), "Udp.NoPorts"));
        Assert.DoesNotContain(summary.GetProperty("attribution").EnumerateArray(), a => a.GetProperty("counter").GetString()!.StartsWith("Udp."));
    }

    [Theory]
    [InlineData("tracepoint")]
    [InlineData("bpf")]
    public async Task With_consume_skb_normal_frees_are_counted_apart_from_drops(string source)
    {
        if (source == "bpf") Privileged.Require(File.Exists("/sys/kernel/btf/vmlinux"), "the kernel has no BTF (/sys/kernel/btf/vmlinux)");
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var before = Snmp(ns);

        // Echo requests to ourselves: icmp_rcv answers and frees each request normally (consume_skb); the replies
        // find no ping socket and are dropped (kfree_skb, NO_SOCKET).
        var (summary, _) = await WatchWhile(source, ns, () => { IcmpTraffic.EchoRequests(ns, 321); return 0; }, () => EchoRepliesSince(ns, before) >= 321, "--consume");

        var requests = Delta(before, Snmp(ns), "Icmp.InEchos");
        Assert.Equal(321, requests);
        var frees = summary.GetProperty("frees").EnumerateArray()
            .Where(f => f.GetProperty("function").GetString() == "icmp_rcv").Sum(f => f.GetProperty("count").GetInt64());
        Assert.Equal(requests, frees);
        Assert.DoesNotContain(summary.GetProperty("drops").EnumerateArray(), d => d.GetProperty("function").GetString() == "icmp_rcv");
        Assert.Equal(requests, Drops(summary, "NO_SOCKET", PingSites).Sum(d => d.Count));
    }

    [Fact]
    public async Task A_full_accept_queue_raises_ListenOverflows_exactly_and_its_SYNs_are_consumed_not_dropped()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var before = Snmp(ns);
        var (overflowsBefore, listenDropsBefore) = (ns.Netstat("TcpExt", "ListenOverflows"), ns.Netstat("TcpExt", "ListenDrops"));

        // A listener with a backlog of 1 that never accepts; 20 clients connect. On this kernel the refused
        // SYNs are freed with consume_skb in tcp_rcv_state_process, like the accepted ones: no drop event.
        const int clients = 20;
        var (summary, _) = await WatchWhile(ns, () => { TcpTraffic.OverflowAcceptQueue(ns, clients, port: 7004); return 0; }, done: null, "--consume");

        // The namespace's own /proc/net/netstat, read by the test, is the witness; not the agent's other counter.
        var overflows = ns.Netstat("TcpExt", "ListenOverflows") - overflowsBefore;
        var listenDrops = ns.Netstat("TcpExt", "ListenDrops") - listenDropsBefore;
        Assert.True(overflows >= 2 * (clients - 2), $"every refused client's SYN and one retransmission should overflow the queue; ListenOverflows rose by {overflows}");
        foreach (var (counter, kernel) in new[] { ("TcpExt.ListenOverflows", overflows), ("TcpExt.ListenDrops", listenDrops) })
            Assert.True(CounterInSummary(summary, counter) == kernel,
                $"the agent reported {counter} +{CounterInSummary(summary, counter)}, the namespace's /proc/net/netstat rose by {kernel}");
        var passiveOpens = Delta(before, Snmp(ns), "Tcp.PassiveOpens");
        Assert.Equal(2, passiveOpens); // the two clients that filled the queue
        var synFrees = summary.GetProperty("frees").EnumerateArray()
            .Where(f => f.GetProperty("function").GetString() == "tcp_rcv_state_process").Sum(f => f.GetProperty("count").GetInt64());
        // Every client's first SYN is a free there (accepted or refused). Of the refused retransmissions a
        // second later, the trace shows all, some or none from run to run with no record lost (seen 20, 36
        // and 38 of 38 on 6.18; `perf record -e skb:consume_skb -a` beside the agent saw the same number every
        // time, so it is the kernel's doing, not the capture's). Only a lower bound: every SYN anywhere on the
        // machine is freed at that same site (seen 39 on a machine where other tests connected meanwhile).
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.True(synFrees >= clients, $"{synFrees} frees at tcp_rcv_state_process, fewer than the {clients} first SYNs");
        Assert.Empty(Drops(summary, "TCP_LISTEN_OVERFLOW"));
        // No other site is credited with it: the rise is reported as unexplained by drops.
        var row = summary.GetProperty("attribution").EnumerateArray().Single(a => a.GetProperty("counter").GetString() == "TcpExt.ListenOverflows");
        Assert.Equal((overflows, "Unexplained", 0L), (row.GetProperty("delta").GetInt64(), row.GetProperty("match").GetString(), row.GetProperty("explained").GetInt64()));
    }

    [Fact]
    public async Task Without_consume_skb_the_summary_has_no_frees()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var before = Snmp(ns);

        var (summary, _) = await WatchWhile(ns, () => { IcmpTraffic.EchoRequests(ns, 50); return 0; }, () => EchoRepliesSince(ns, before) >= 50);

        Assert.Equal(0, summary.GetProperty("frees").GetArrayLength());
        // The capture was alive all along: it saw this test's own drops (the replies no ping socket takes).
        Assert.Equal(50, Drops(summary, "NO_SOCKET", PingSites).Sum(d => d.Count));
    }

    /// <summary>
    /// Runs the agent on the tracepoint (or <paramref name="source"/>) while <paramref name="makeDrops"/> runs, then stops it once
    /// <paramref name="done"/> says the kernel has handled all of the test's traffic (on a loaded machine the
    /// softirq that drops a packet may run after the send returned). No fixed window: a loaded machine could close
    /// it while the traffic was still going on.
    /// </summary>
    internal static Task<(JsonElement Summary, T Result)> WatchWhile<T>(NetNamespace ns, Func<T> makeDrops, Func<bool>? done, params string[] extra) =>
        WatchWhile("tracepoint", ns, makeDrops, done, extra);

    internal static async Task<(JsonElement Summary, T Result)> WatchWhile<T>(string source, NetNamespace ns, Func<T> makeDrops, Func<bool>? done, params string[] extra)
    {
        using var agent = AgentProcess.Start(["watch", "--source", source, "--json", "--interval", "0.5", "--netns", ns.Name, .. extra]);
        await agent.WaitUntilCapturingAsync();
        var result = makeDrops();
        if (done is not null) await WaitUntil(done, "the kernel to handle the test's traffic");
        agent.Terminate();
        var exit = await agent.WaitForExitAsync();
        Assert.True(exit == 0, $"agent exited {exit}: {agent.Stderr}");
        var summary = agent.Summary();
        Assert.Equal(source, summary.GetProperty("source").GetString());
        return (OnlyIn(summary, ns), result);
    }

    /// <summary>
    /// The summary's drops, counters and attribution of <paramref name="ns"/> alone. The bpf source names every entry's
    /// namespace and reads counters of each namespace that drops (the host's too, where other programs drop meanwhile);
    /// entries that name none (other sources) are kept.
    /// </summary>
    private static JsonElement OnlyIn(JsonElement summary, NetNamespace ns)
    {
        var inode = ns.Inode;
        var node = System.Text.Json.Nodes.JsonNode.Parse(summary.GetRawText())!.AsObject();
        foreach (var list in new[] { "drops", "counters", "attribution" })
        {
            var kept = node[list]!.AsArray().Where(e => e!["netns"] is not { } netns || netns.GetValue<uint>() == inode).Select(e => e!.DeepClone()).ToArray();
            node[list] = new System.Text.Json.Nodes.JsonArray(kept);
        }
        return JsonSerializer.SerializeToElement(node);
    }

    internal static async Task WaitUntil(Func<bool> condition, string what)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"waited 60 s for {what}");
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// The attribution row of <paramref name="counter"/> has the namespace's rise, and the test's own sites and
    /// reason in it account for all of it; it is Exact when no drop elsewhere on the host matched the counter too.
    /// </summary>
    private static void AssertAttributed(JsonElement summary, string counter, long delta, string reason, string[] functions)
    {
        var row = summary.GetProperty("attribution").EnumerateArray().Single(a => a.GetProperty("counter").GetString() == counter);
        Assert.Equal(delta, row.GetProperty("delta").GetInt64());
        var sites = row.GetProperty("sites").EnumerateArray()
            .Select(s => (Function: s.GetProperty("function").GetString()!, Reason: s.GetProperty("reason").GetString(), Count: s.GetProperty("count").GetInt64()))
            .ToList();
        var own = sites.Where(s => s.Reason == reason && functions.Contains(s.Function)).ToList();
        Assert.Equal(delta, own.Sum(s => s.Count));
        if (own.Count == sites.Count)
            Assert.Equal(("Exact", delta), (row.GetProperty("match").GetString(), row.GetProperty("explained").GetInt64()));
    }

    /// <summary>Echo replies the namespace received since <paramref name="before"/>: each one is dropped right after (no ping socket).</summary>
    private static long EchoRepliesSince(NetNamespace ns, CounterSnapshot before) => ns.Snmp("Icmp", "InEchoReps") - (long)before.Values["Icmp.InEchoReps"];

    /// <summary>Packets the namespace's iptables DROP rule counted (<c>iptables -L INPUT -v -x -n</c>, its first column).</summary>
    private static long RuleDrops(NetNamespace ns) =>
        ns.Exec("iptables", "-L", "INPUT", "-v", "-x", "-n").Split('\n')
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length > 2 && f[2] == "DROP")
            .Sum(f => long.Parse(f[0]));

    private static CounterSnapshot Snmp(NetNamespace ns)
    {
        var snapshot = new CounterSnapshot();
        ProcNetParsers.ParseHeaderValuePairs(ns.ReadProcNet("snmp"), "snmp", snapshot);
        Assert.Empty(snapshot.Problems);
        return snapshot;
    }

    private static long Delta(CounterSnapshot before, CounterSnapshot after, string name) =>
        (long)(after.Values[name] - before.Values[name]);

    /// <summary>Drops of <paramref name="reason"/>, at the given functions only when <paramref name="functions"/> is given.</summary>
    internal static List<(string Function, string Site, long Count)> Drops(JsonElement summary, string reason, string[]? functions = null) =>
        summary.GetProperty("drops").EnumerateArray()
            .Where(d => d.GetProperty("reason").GetString() == reason)
            .Select(d => (Function: d.GetProperty("function").GetString()!, Site: d.GetProperty("site").GetString()!, Count: d.GetProperty("count").GetInt64()))
            .Where(d => functions is null || functions.Contains(d.Function))
            .ToList();

    internal static long CounterInSummary(JsonElement summary, string name) =>
        summary.GetProperty("counters").EnumerateArray()
            .Where(c => c.GetProperty("name").GetString() == name)
            .Sum(c => c.GetProperty("delta").GetInt64());
}
