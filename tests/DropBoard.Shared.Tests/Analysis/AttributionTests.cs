using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;

namespace DropBoard.Shared.Tests.Analysis;

public class AttributionTests
{
    private static DropBucket Drop(string function, string? reason, long count, long offset = 0x437) =>
        new($"{function}+0x{offset:x}", function, reason, 0, count);

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
    public void Netfilter_drops_are_reported_as_seen_by_no_counter_with_the_source()
    {
        var report = CounterAttributor.Attribute([Drop("nf_hook_slow", "NETFILTER_DROP", 555, 0x45)], [], "6.18.0");

        var uncounted = Assert.Single(report.Uncounted);
        Assert.Equal(555, uncounted.Site.Count);
        Assert.Contains("nf_hook_slow", uncounted.Why);
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
            Assert.True(r.Functions.Length + r.Reasons.Length > 0);
            Assert.All(r.Counters, c => Assert.Matches(@"^[A-Za-z0-9]+\.[A-Za-z0-9_.]+$", c));
        });
        Assert.All(KernelKnowledge.Patterns, p => Assert.False(string.IsNullOrWhiteSpace(p.Source)));
    }
}
