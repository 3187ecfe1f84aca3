using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Symbols;

namespace DropBoard.Agent.Tests.Aggregation;

public class DropAggregatorTests
{
    private static readonly Symbolizer Symbols = Symbolizer.FromText("""
        ffffffff820454f0 t udp_queue_rcv_one_skb
        ffffffff82046a90 T __udp4_lib_rcv
        """);

    private const ulong UdpQueue = 0xffffffff820454f0 + 0x437, UdpRcv = 0xffffffff82046a90 + 0x4bc;
    private const long Ms = 1_000_000;

    [Fact]
    public void Counts_per_site_reason_and_bucket()
    {
        var aggregator = new DropAggregator(Symbols, bucketMs: 10);
        var rcvbuf = aggregator.Reasons.Intern("SOCKET_RCVBUFF");
        var noSocket = aggregator.Reasons.Intern("NO_SOCKET");
        for (var i = 0; i < 174; i++) aggregator.Add(UdpQueue, rcvbuf, 1_000 * Ms + i * Ms / 10); // 17.4 ms: two buckets
        aggregator.Add(UdpRcv, noSocket, 1_000 * Ms, 5);
        aggregator.Add(UdpQueue, rcvbuf, 1_000 * Ms + 1);
        aggregator.Commit();

        var buckets = aggregator.Flush();

        Assert.Equal(175, buckets.Where(b => b.Site == "udp_queue_rcv_one_skb+0x437").Sum(b => b.Count));
        Assert.Equal([1000L, 1010L], buckets.Where(b => b.Reason == "SOCKET_RCVBUFF").Select(b => b.StartMs).Order());
        Assert.Equal(101, buckets.Single(b => b.Reason == "SOCKET_RCVBUFF" && b.StartMs == 1000).Count);
        var udp = buckets.Single(b => b.Reason == "NO_SOCKET");
        Assert.Equal(("__udp4_lib_rcv", 5L), (udp.Function, udp.Count));
    }

    [Fact]
    public void A_counter_sample_splits_its_bucket_so_drops_before_it_start_before_its_stamp_and_drops_after_at_it()
    {
        var aggregator = new DropAggregator(Symbols, bucketMs: 10);
        var rcvbuf = aggregator.Reasons.Intern("SOCKET_RCVBUFF");
        var sample = 1_004 * Ms + 300_000; // 1004.3 ms, stamped 1005
        aggregator.CutAt(sample);
        foreach (var at in new[] { 1_001 * Ms, sample - 1, sample, 1_009 * Ms, 1_010 * Ms, 990 * Ms })
            aggregator.Add(UdpQueue, rcvbuf, at);
        aggregator.Commit();

        var buckets = aggregator.Flush().Select(b => (b.StartMs, b.Count)).ToList();

        Assert.Equal(1005, DropAggregator.SampleMs(sample));
        Assert.Equal([(990L, 1L), (1000L, 2L), (1005L, 2L), (1010L, 1L)], buckets.Order());
    }

    [Fact]
    public void Nothing_is_flushed_before_commit_and_nothing_twice_after()
    {
        var aggregator = new DropAggregator(Symbols);
        aggregator.Add(UdpQueue, DropReasonTable.None, 5 * Ms);
        Assert.Empty(aggregator.Flush());

        aggregator.Commit();
        var first = Assert.Single(aggregator.Flush());
        Assert.Null(first.Reason);
        Assert.Empty(aggregator.Flush());
    }

    [Fact]
    public void Named_sites_without_a_program_counter_are_counted_too()
    {
        var aggregator = new DropAggregator(Symbols);
        aggregator.AddNamedSite("hw:l2_drops/ingress_vlan_filter", "ingress_vlan_filter", DropReasonTable.None, 20 * Ms, 3);

        var bucket = Assert.Single(aggregator.Flush());
        Assert.Equal(("hw:l2_drops/ingress_vlan_filter", 20L, 3L), (bucket.Site, bucket.StartMs, bucket.Count));
    }
}
