using System.Text.Json;
using DropBoard.Agent.Counters;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// The agent CLI, run as a real process, against real drops made in a fresh network namespace: what it
/// reports must equal the namespace's own counters exactly.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class WatchAgainstKernelCountersTests
{
    private static readonly string[] UdpQueueSites = ["__udp_enqueue_schedule_skb", "udp_queue_rcv_one_skb", "udp_queue_rcv_skb"];

    [Fact]
    public async Task Receive_buffer_overflow_drops_equal_Udp_RcvbufErrors_and_sent_minus_received()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var before = Snmp(ns);

        var (summary, stats) = await WatchWhile(ns, () => UdpTraffic.OverflowReceiveBuffer(ns, datagrams: 3000, port: 7001));
        var (sent, received) = stats;

        var after = Snmp(ns);
        var rcvbufErrors = Delta(before, after, "Udp.RcvbufErrors");
        Assert.True(rcvbufErrors > 1000, $"the flood should overflow the queue; RcvbufErrors rose by {rcvbufErrors}");
        Assert.Equal(sent - received, rcvbufErrors);

        var drops = Drops(summary, "SOCKET_RCVBUFF");
        Assert.All(drops, d => Assert.Contains(d.Function, UdpQueueSites));
        Assert.Equal(rcvbufErrors, drops.Sum(d => d.Count));
        Assert.Equal(rcvbufErrors, CounterInSummary(summary, "Udp.RcvbufErrors"));
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        AssertAttributedExactly(summary, "Udp.RcvbufErrors", rcvbufErrors, "SOCKET_RCVBUFF");
        AssertAttributedExactly(summary, "Udp.InErrors", rcvbufErrors, "SOCKET_RCVBUFF");
    }

    [Fact]
    public async Task Datagrams_to_a_closed_port_equal_Udp_NoPorts()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var before = Snmp(ns);

        var (summary, _) = await WatchWhile(ns, () => { UdpTraffic.SendTo(ns, 777, port: 7002); return 0; });

        var noPorts = Delta(before, Snmp(ns), "Udp.NoPorts");
        Assert.Equal(777, noPorts);
        var drops = Drops(summary, "NO_SOCKET");
        Assert.Equal(noPorts, drops.Sum(d => d.Count));
        Assert.All(drops, d => Assert.StartsWith("__udp4_lib_rcv", d.Function));
        Assert.Equal(noPorts, CounterInSummary(summary, "Udp.NoPorts"));
        AssertAttributedExactly(summary, "Udp.NoPorts", noPorts, "NO_SOCKET");
    }

    [Fact]
    public async Task An_iptables_DROP_rule_shows_as_NETFILTER_DROP_once_per_datagram()
    {
        Privileged.RequireCommand("iptables", "iptables");
        using var ns = NetNamespace.Create();
        ns.Exec("iptables", "-A", "INPUT", "-p", "udp", "--dport", "7003", "-j", "DROP");
        using var _ = KernelTestLock.Acquire();
        var before = Snmp(ns);

        var (summary, _) = await WatchWhile(ns, () => { UdpTraffic.SendTo(ns, 555, port: 7003); return 0; });

        var dropped = ns.Exec("iptables", "-L", "INPUT", "-v", "-x", "-n");
        Assert.Contains("555", dropped);
        Assert.Equal(555, Drops(summary, "NETFILTER_DROP").Sum(d => d.Count));
        // Dropped before UDP saw them: no UDP counter may claim these datagrams, and the summary says no counter sees them.
        Assert.Equal(0, Delta(before, Snmp(ns), "Udp.NoPorts"));
        Assert.DoesNotContain(summary.GetProperty("attribution").EnumerateArray(), a => a.GetProperty("counter").GetString()!.StartsWith("Udp."));
    }

    [Fact]
    public async Task With_consume_skb_normal_frees_are_counted_apart_from_drops()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var before = Snmp(ns);

        // Echo requests to ourselves: icmp_rcv answers and frees each request normally (consume_skb); the replies
        // find no ping socket and are dropped (kfree_skb, NO_SOCKET).
        var (summary, _) = await WatchWhile(ns, () => { IcmpTraffic.EchoRequests(ns, 321); return 0; }, "--consume");

        var requests = Delta(before, Snmp(ns), "Icmp.InEchos");
        Assert.Equal(321, requests);
        var frees = summary.GetProperty("frees").EnumerateArray()
            .Where(f => f.GetProperty("function").GetString() == "icmp_rcv").Sum(f => f.GetProperty("count").GetInt64());
        Assert.Equal(requests, frees);
        Assert.DoesNotContain(summary.GetProperty("drops").EnumerateArray(), d => d.GetProperty("function").GetString() == "icmp_rcv");
        Assert.Equal(requests, Drops(summary, "NO_SOCKET").Where(d => d.Function == "ping_rcv").Sum(d => d.Count));
    }

    [Fact]
    public async Task A_full_accept_queue_raises_ListenOverflows_exactly_and_its_SYNs_are_consumed_not_dropped()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var before = Snmp(ns);

        // A listener with a backlog of 1 that never accepts; 20 clients connect. On this kernel the refused
        // SYNs are freed with consume_skb in tcp_rcv_state_process, like the accepted ones: no drop event.
        const int clients = 20;
        var (summary, _) = await WatchWhile(ns, () => { TcpTraffic.OverflowAcceptQueue(ns, clients, port: 7004); return 0; }, "--consume");

        var overflows = CounterInSummary(summary, "TcpExt.ListenOverflows");
        Assert.True(overflows > 0, "the accept queue should overflow");
        Assert.Equal(overflows, CounterInSummary(summary, "TcpExt.ListenDrops"));
        var passiveOpens = Delta(before, Snmp(ns), "Tcp.PassiveOpens");
        var synFrees = summary.GetProperty("frees").EnumerateArray()
            .Where(f => f.GetProperty("function").GetString() == "tcp_rcv_state_process").Sum(f => f.GetProperty("count").GetInt64());
        // Every client's first SYN is a free there (accepted or refused). Of the refused retransmissions a
        // second later, the trace shows all, some or none from run to run with no record lost (seen 20, 36
        // and 38 of 38 on 6.18; `perf record -e skb:consume_skb -a` beside the agent saw the same number every
        // time, so it is the kernel's doing, not the capture's), so they bound the count rather than fix it.
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.InRange(synFrees, clients, overflows + passiveOpens);
        Assert.Empty(Drops(summary, "TCP_LISTEN_OVERFLOW"));
        // No other site is credited with it: the rise is reported as unexplained by drops.
        var row = summary.GetProperty("attribution").EnumerateArray().Single(a => a.GetProperty("counter").GetString() == "TcpExt.ListenOverflows");
        Assert.Equal(("Unexplained", 0L), (row.GetProperty("match").GetString(), row.GetProperty("explained").GetInt64()));
    }

    [Fact]
    public async Task Without_consume_skb_the_summary_has_no_frees()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();

        var (summary, _) = await WatchWhile(ns, () => { IcmpTraffic.EchoRequests(ns, 50); return 0; });

        Assert.Equal(0, summary.GetProperty("frees").GetArrayLength());
    }

    private static async Task<(JsonElement Summary, T Result)> WatchWhile<T>(NetNamespace ns, Func<T> makeDrops, params string[] extra)
    {
        // Stopped once the traffic is over, not after a fixed time: on a loaded machine a fixed window could close
        // while the traffic (SYN retransmissions a second later) was still going on.
        using var agent = AgentProcess.Start(["watch", "--json", "--interval", "0.5", "--netns", ns.Name, .. extra]);
        await agent.WaitUntilCapturingAsync();
        var result = makeDrops();
        await Task.Delay(300);
        agent.Terminate();
        var exit = await agent.WaitForExitAsync();
        Assert.True(exit == 0, $"agent exited {exit}: {agent.Stderr}");
        return (agent.Summary(), result);
    }

    /// <summary>The summary's attribution names the counter, its rise, and only drops of the expected reason, adding up exactly.</summary>
    private static void AssertAttributedExactly(JsonElement summary, string counter, long delta, string reason)
    {
        var row = summary.GetProperty("attribution").EnumerateArray().Single(a => a.GetProperty("counter").GetString() == counter);
        Assert.Equal((delta, delta, "Exact"), (row.GetProperty("delta").GetInt64(), row.GetProperty("explained").GetInt64(), row.GetProperty("match").GetString()));
        Assert.All(row.GetProperty("sites").EnumerateArray(), s => Assert.Equal(reason, s.GetProperty("reason").GetString()));
    }

    private static CounterSnapshot Snmp(NetNamespace ns)
    {
        var snapshot = new CounterSnapshot();
        ProcNetParsers.ParseHeaderValuePairs(ns.ReadProcNet("snmp"), "snmp", snapshot);
        Assert.Empty(snapshot.Problems);
        return snapshot;
    }

    private static long Delta(CounterSnapshot before, CounterSnapshot after, string name) =>
        (long)(after.Values[name] - before.Values[name]);

    private static List<(string Function, string Site, long Count)> Drops(JsonElement summary, string reason) =>
        summary.GetProperty("drops").EnumerateArray()
            .Where(d => d.GetProperty("reason").GetString() == reason)
            .Select(d => (d.GetProperty("function").GetString()!, d.GetProperty("site").GetString()!, d.GetProperty("count").GetInt64()))
            .ToList();

    private static long CounterInSummary(JsonElement summary, string name) =>
        summary.GetProperty("counters").EnumerateArray()
            .Where(c => c.GetProperty("name").GetString() == name)
            .Sum(c => c.GetProperty("delta").GetInt64());
}
