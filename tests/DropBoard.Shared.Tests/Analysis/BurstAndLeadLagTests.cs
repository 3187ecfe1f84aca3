using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;

namespace DropBoard.Shared.Tests.Analysis;

public class BurstAndLeadLagTests
{
    private const long Minute = 60_000;

    [Fact]
    public void A_burst_on_top_of_a_steady_trickle_is_found_with_its_shape()
    {
        var series = Enumerable.Range(0, 6000).Select(i => ((long)i * 10, 1L)).ToList();
        for (var i = 3000; i < 3005; i++) series[i] = (i * 10L, i == 3002 ? 80 : 40);

        var burst = Assert.Single(BurstDetector.Detect("f", series, 0, Minute, bucketMs: 10));

        Assert.Equal((30_000L, 30_050L, 30_020L, 80L, 240L), (burst.StartMs, burst.EndMs, burst.PeakMs, burst.PeakCount, burst.Total));
    }

    [Fact]
    public void Sparse_drops_are_bursts_each_and_near_ones_merge()
    {
        var bursts = BurstDetector.Detect("f", [(100, 3), (110, 2), (130, 1), (5000, 7)], 0, Minute, bucketMs: 10);

        Assert.Equal([(100L, 140L, 6L), (5000L, 5010L, 7L)], bursts.Select(b => (b.StartMs, b.EndMs, b.Total)));
    }

    [Fact]
    public void A_leading_by_5_ms_in_90_percent_of_bursts_is_a_lead_with_that_lag()
    {
        var random = new Random(1);
        var a = BurstTimes(random, 50);
        var b = a.Where((_, i) => i % 10 != 0).Select(t => t + 5).ToList();

        var relation = Relate(a, b, bucketMs: 1);

        Assert.Equal(LeadLagKind.Leads, relation.Kind);
        Assert.Equal(45, relation.Followed);
        Assert.Equal(5, relation.MedianLagMs);
        Assert.True(relation.PValue < 1e-6);
        Assert.True(relation.Score > 0.85);
        Assert.Equal(LeadLagKind.None, Relate(b, a, bucketMs: 1).Kind); // B does not lead A
    }

    [Fact]
    public void Bursts_in_the_same_bucket_are_coincident_not_leading()
    {
        var a = BurstTimes(new Random(2), 40);

        var relation = Relate(a, a.Select(t => t + 2).ToList(), bucketMs: 10);

        Assert.Equal(LeadLagKind.Coincident, relation.Kind);
        Assert.Equal(a.Count, relation.Coincident);
        Assert.True(relation.Coincident > 5 * relation.Followed);
    }

    [Fact]
    public void Independent_random_sites_do_not_come_out_as_related()
    {
        var random = new Random(3);
        var sites = Enumerable.Range(0, 20).ToDictionary(i => $"site{i}", _ => Bursts(BurstTimes(random, random.Next(10, 60))));

        var relations = LeadLag.Analyze(sites, Minute * 10, bucketMs: 10, horizonMs: 1000);

        Assert.Equal(20 * 19, relations.Count);
        Assert.True(relations.Count(r => r.Kind != LeadLagKind.None) <= 1, string.Join("; ", relations.Where(r => r.Kind != LeadLagKind.None)));
    }

    [Fact]
    public void Binomial_tail_matches_the_exact_value()
    {
        Assert.Equal(56.0 / 1024, LeadLag.BinomialTail(10, 0.5, 8), 12);
        Assert.Equal(1, LeadLag.BinomialTail(10, 0.3, 0));
        Assert.InRange(LeadLag.BinomialTail(5000, 0.01, 200), 0, 1e-30);
    }

    [Fact]
    public void Explain_reports_the_lead_in_a_sentence()
    {
        var random = new Random(4);
        var a = BurstTimes(random, 30);
        var drops = a.Select(t => new DropBucket("net_tx_action+0x0", "net_tx_action", null, t, 50))
            .Concat(a.Select(t => new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", t + 40, 20)))
            .ToList();

        var report = Explainer.Explain(drops, [], new ExplainOptions { BucketMs = 10, WindowStartMs = 0, WindowEndMs = 10 * Minute });

        Assert.Contains(report.Sentences, s => s.StartsWith("net_tx_action bursts precede udp_queue_rcv_one_skb bursts in 30 of 30 cases (median lag 40 ms"));
    }

    private static List<long> BurstTimes(Random random, int count) =>
        Enumerable.Range(0, count).Select(_ => (long)random.Next(0, 600_000) / 10 * 10).Distinct().Order().ToList();

    private static List<Burst> Bursts(IEnumerable<long> starts) => starts.Select(t => new Burst("x", t, t + 10, t, 5, 5)).ToList();

    private static LeadLagRelation Relate(List<long> a, List<long> b, int bucketMs) =>
        LeadLag.Relate("A", [.. a], "B", [.. b.Order()], 10 * Minute, bucketMs, horizonMs: 1000);
}
