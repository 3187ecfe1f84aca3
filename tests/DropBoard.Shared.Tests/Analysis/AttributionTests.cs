using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;

namespace DropBoard.Shared.Tests.Analysis;

public class AttributionTests
{
    private const ushort IPv4 = 0x0800, IPv6 = 0x86DD;

    private static DropBucket Drop(string function, string? reason, long count, long offset = 0x437, ushort protocol = IPv4) =>
        new($"{function}+0x{offset:x}", function, reason, 0, count, protocol);

    [Fact]
    public void One_receive_buffer_drop_explains_both_InErrors_and_RcvbufErrors()
    {
        var report = CounterAttributor.Attribute(
            [Drop("udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 100)],
            [new("Udp.InErrors", 100, 0), new("Udp.RcvbufErrors", 100, 0), new("Udp.InDatagrams", 5000, 0)],
            "6.18.0");

        Assert.Equal(["Udp.InErrors", "Udp.RcvbufErrors"], report.Counters.Select(c => c.Counter));
        Assert.All(report.Counters, c => Assert.Equal(AttributionMatch.Exact, c.Match));
        Assert.Empty(report.Uncounted);
    }

    [Fact]
    public void Drops_and_counters_of_network_namespaces_are_held_only_to_each_other()
    {
        // Two namespaces each dropped 100 and 40, each counted its own: summed they would be Exact too, but a
        // namespace's 100 must not explain another's 40. A third dropped where no counter of it rose.
        var report = CounterAttributor.Attribute(
            [
                Drop("udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 100) with { Netns = 1, NetnsName = "blue" },
                Drop("udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 40) with { Netns = 2, NetnsName = "docker 0123456789ab" },
                Drop("udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 7) with { Netns = 3 },
            ],
            [new("Udp.RcvbufErrors", 100, 0, Netns: 1), new("Udp.RcvbufErrors", 45, 0, Netns: 2)],
            "6.18.0");

        var rows = report.Counters.Where(c => c.Counter == "Udp.RcvbufErrors").ToDictionary(c => c.Netns);
        Assert.Equal((AttributionMatch.Exact, 100L, 100L, "blue"), (rows[1].Match, rows[1].Delta, rows[1].Explained, rows[1].NetnsName));
        Assert.Equal((AttributionMatch.Partial, 45L, 40L, "docker 0123456789ab"), (rows[2].Match, rows[2].Delta, rows[2].Explained, rows[2].NetnsName));
        Assert.All(rows[2].Sites, s => Assert.Equal(2u, s.Netns));
        Assert.False(rows.ContainsKey(3), "a namespace whose counters did not rise has no row unless the counters were sampled");

        var sampled = CounterAttributor.Attribute(CounterAttributor.Totals([Drop("udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 7) with { Netns = 3 }]),
            [new("Udp.RcvbufErrors", 100, 0, Netns: 1)], "6.18.0", countersSampled: true);
        var silent = sampled.Counters.Single(c => c.Counter == "Udp.RcvbufErrors" && c.Netns == 3);
        Assert.Equal((AttributionMatch.Over, 0L, 7L), (silent.Match, silent.Delta, silent.Explained));
    }

    [Fact]
    public void A_rise_larger_than_the_drops_is_partial_and_one_without_drops_is_unexplained()
    {
        var report = CounterAttributor.Attribute(
            [Drop("udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 100)],
            [new("Udp.InErrors", 120, 0), new("Udp.InCsumErrors", 3, 0), new("Udp.RcvbufErrors", 101, 0)],
            null);

        var byName = report.Counters.ToDictionary(c => c.Counter);
        Assert.Equal((AttributionMatch.Partial, 100L), (byName["Udp.InErrors"].Match, byName["Udp.InErrors"].Explained));
        Assert.Equal(AttributionMatch.Close, byName["Udp.RcvbufErrors"].Match);
        Assert.Equal((AttributionMatch.Unexplained, 0L), (byName["Udp.InCsumErrors"].Match, byName["Udp.InCsumErrors"].Explained));
    }

    [Fact]
    public void Reasons_decide_between_paths_of_one_function()
    {
        var report = CounterAttributor.Attribute(
            [Drop("__udp4_lib_rcv", "NO_SOCKET", 7, 0x4bc), Drop("__udp4_lib_rcv", "UDP_CSUM", 2, 0x51a)],
            [new("Udp.NoPorts", 7, 0), new("Udp.InCsumErrors", 2, 0)],
            "6.18.0");

        var noPorts = report.Counters.Single(c => c.Counter == "Udp.NoPorts");
        Assert.Equal(AttributionMatch.Exact, noPorts.Match);
        Assert.Equal("NO_SOCKET", Assert.Single(noPorts.Sites).Reason);
        Assert.Equal("UDP_CSUM", Assert.Single(report.Counters.Single(c => c.Counter == "Udp.InCsumErrors").Sites).Reason);
    }

    [Fact]
    public void Drops_with_a_reason_no_counter_sees_say_why_with_the_kernel_source()
    {
        var report = CounterAttributor.Attribute([Drop("ip_rcv_core", "OTHERHOST", 555, 0x45)], [], "6.18.0");

        var uncounted = Assert.Single(report.Uncounted);
        Assert.Equal(555, uncounted.Site.Count);
        Assert.Contains("another host", uncounted.Why);
        Assert.Contains("net/ipv4/ip_input.c ip_rcv_core", uncounted.Why);
    }

    [Fact]
    public void Tcp_resets_for_a_closed_port_are_not_udp_no_ports()
    {
        var report = CounterAttributor.Attribute(
            [Drop("tcp_v4_rcv", "NO_SOCKET", 40, 0x3a1), Drop("__udp4_lib_rcv", "NO_SOCKET", 7, 0x4bc)],
            [new("Udp.NoPorts", 7, 0), new("Tcp.OutRsts", 40, 0)],
            "6.18.0");

        var noPorts = report.Counters.Single(c => c.Counter == "Udp.NoPorts");
        Assert.Equal((AttributionMatch.Exact, "__udp4_lib_rcv"), (noPorts.Match, Assert.Single(noPorts.Sites).Function));
        var resets = report.Counters.Single(c => c.Counter == "Tcp.OutRsts");
        Assert.Equal((AttributionMatch.Exact, "tcp_v4_rcv"), (resets.Match, Assert.Single(resets.Sites).Function));
    }

    [Fact]
    public void Ipv6_receive_buffer_drops_explain_the_ipv6_counters_and_not_the_ipv4_ones()
    {
        var report = CounterAttributor.Attribute(
            [Drop("udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 30), Drop("udpv6_queue_rcv_one_skb", "SOCKET_RCVBUFF", 12, 0x2f0, IPv6)],
            [new("Udp.RcvbufErrors", 30, 0), new("Udp6.RcvbufErrors", 12, 0)],
            "6.18.0");

        Assert.Equal([("Udp.RcvbufErrors", 30L, AttributionMatch.Exact), ("Udp6.RcvbufErrors", 12L, AttributionMatch.Exact)],
            report.Counters.Select(c => (c.Counter, c.Explained, c.Match)));
    }

    [Fact]
    public void A_counter_family_is_summed_over_the_instances_that_rose()
    {
        var report = CounterAttributor.Attribute(
            [Drop("__dev_queue_xmit", "QDISC_DROP", 90, 0x8c1)],
            [new("Qdisc.veth0.8001:.dropped", 60, 0), new("Qdisc.veth1.8002:.dropped", 30, 0), new("Qdisc.veth1.8002:.requeues", 4, 0)],
            "6.18.0");

        var qdisc = Assert.Single(report.Counters);
        Assert.Equal(("Qdisc.veth0.8001:.dropped + Qdisc.veth1.8002:.dropped", 90L, 90L, AttributionMatch.Exact),
            (qdisc.Counter, qdisc.Delta, qdisc.Explained, qdisc.Match));
    }

    [Fact]
    public void A_counter_that_did_not_move_over_sampled_drops_is_reported_and_only_then()
    {
        var drops = new[] { Drop("udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 50) };

        var sampled = CounterAttributor.Attribute(drops, [new("Udp.InDatagrams", 10, 0)], "6.18.0", countersSampled: true);
        Assert.Equal([("Udp.InErrors", 0L, 50L), ("Udp.RcvbufErrors", 0L, 50L)], sampled.Counters.Select(c => (c.Counter, c.Delta, c.Explained)));
        Assert.All(sampled.Counters, c => Assert.Equal(AttributionMatch.Over, c.Match));
        Assert.Empty(CounterAttributor.Attribute(drops, [], "6.18.0").Counters);
    }

    [Fact]
    public void Qdisc_drops_raise_the_udp_send_counters_by_at_most_the_drops_and_the_qdisc_counter_exactly()
    {
        // 340 dropped at the qdisc, 300 of them datagrams a local UDP socket sent: ip_send_skb counted those, TCP's 40 not.
        var drops = new[] { Drop("__dev_queue_xmit", "QDISC_DROP", 340, 0x8c1) };
        var report = CounterAttributor.Attribute(drops,
            [new("Qdisc.va.8001:.dropped", 340, 0), new("Ip.OutDiscards", 300, 0), new("Udp.SndbufErrors", 300, 0)], "6.18.0");

        Assert.Equal([("Ip.OutDiscards", 300L, 340L, AttributionMatch.AtMost), ("Qdisc.va.8001:.dropped", 340L, 340L, AttributionMatch.Exact),
                      ("Udp.SndbufErrors", 300L, 340L, AttributionMatch.AtMost)],
            report.Counters.Select(c => (c.Counter, c.Delta, c.Explained, c.Match)));
        // UDP alone: every drop counted, exact as before.
        Assert.All(CounterAttributor.Attribute(drops, [new("Ip.OutDiscards", 340, 0), new("Udp.SndbufErrors", 340, 0)], "6.18.0").Counters,
            c => Assert.Equal(AttributionMatch.Exact, c.Match));
        // TCP alone, counters sampled: that they did not move is no sign of drops elsewhere.
        Assert.All(CounterAttributor.Attribute(drops, [new("Qdisc.va.8001:.dropped", 340, 0)], "6.18.0", countersSampled: true).Counters
                .Where(c => c.Counter != "Qdisc.va.8001:.dropped"),
            c => Assert.Equal((AttributionMatch.AtMost, 0L), (c.Match, c.Delta)));
        Assert.Equal(["Ip.OutDiscards", "Udp.SndbufErrors"], KernelKnowledge.Feed("__dev_queue_xmit", "QDISC_DROP", IPv4, "6.18.0").CountingSome);
    }

    [Theory]
    [InlineData(30, AttributionMatch.AtMost)] // between the 10 it always counts and all 60
    [InlineData(10, AttributionMatch.AtMost)]
    [InlineData(5, AttributionMatch.Over)] // fewer than the drops it always counts
    [InlineData(60, AttributionMatch.Exact)]
    [InlineData(70, AttributionMatch.Partial)]
    public void A_counter_fed_in_full_by_some_drops_and_partly_by_others_is_bounded_by_both(long rise, AttributionMatch match)
    {
        // Ip6.OutDiscards counts every IPV6DISABLED drop at ip6_output, and only the UDP ones of a qdisc's IPv6 drops.
        var report = CounterAttributor.Attribute(
            [Drop("__dev_queue_xmit", "QDISC_DROP", 50, 0x8c1, IPv6), Drop("ip6_output", "IPV6DISABLED", 10, 0x1b2, IPv6)],
            [new("Ip6.OutDiscards", rise, 0)], "6.18.0");

        var row = Assert.Single(report.Counters);
        Assert.Equal((rise, 60L, match), (row.Delta, row.Explained, row.Match));
    }

    [Fact]
    public void More_drops_than_the_counter_rose_is_over_not_exact()
    {
        var report = CounterAttributor.Attribute([Drop("__udp4_lib_rcv", "NO_SOCKET", 900, 0x4bc)], [new("Udp.NoPorts", 300, 0)], null);

        Assert.Equal(AttributionMatch.Over, Assert.Single(report.Counters).Match);
    }

    [Fact]
    public void Every_knowledge_row_cites_a_source_and_names_counters_as_Group_Name()
    {
        Assert.NotEmpty(KernelKnowledge.CounterSources);
        Assert.All(KernelKnowledge.CounterSources, r =>
        {
            Assert.False(string.IsNullOrWhiteSpace(r.Source));
            Assert.NotEmpty(r.Functions);
            Assert.All(r.Counters, c => Assert.Matches(@"^[A-Za-z0-9]+\.[A-Za-z0-9_.]+$", c));
        });
        Assert.All(KernelKnowledge.Patterns, p => Assert.False(string.IsNullOrWhiteSpace(p.Source)));
    }

    [Fact]
    public void A_reason_no_test_namespace_can_make_says_why_and_the_others_load_without_the_note()
    {
        foreach (var reason in new[] { "NETFILTER_DROP", "CPU_BACKLOG", "FULL_RING" })
            Assert.StartsWith("not proven here: ", KernelKnowledge.DropReasons[reason].NotProvenHere);
        Assert.Contains("nf_conntrack_max", KernelKnowledge.DropReasons["NETFILTER_DROP"].NotProvenHere);
        Assert.Null(KernelKnowledge.DropReasons["SOCKET_RCVBUFF"].NotProvenHere);
    }
}
