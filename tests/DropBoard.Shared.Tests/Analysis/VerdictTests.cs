using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;

namespace DropBoard.Shared.Tests.Analysis;

/// <summary>Explain opens with a verdict: what is a loss, what is not on this kernel, what follows from what, and what to do.</summary>
public class VerdictTests
{
    private const long Minute = 60_000;

    [Fact]
    public void Every_drop_reason_and_every_counter_source_says_what_to_do()
    {
        Assert.All(KernelKnowledge.DropReasons.Values, r => Assert.False(string.IsNullOrWhiteSpace(r.WhatToDo), r.Reason));
        Assert.All(KernelKnowledge.CounterSources, r => Assert.False(string.IsNullOrWhiteSpace(r.WhatToDo), string.Join(",", r.Functions)));
        Assert.Contains("SO_RCVBUF", KernelKnowledge.DropReasons["SOCKET_RCVBUFF"].WhatToDo);
        Assert.Contains("somaxconn", KernelKnowledge.DropReasons["TCP_LISTEN_OVERFLOW"].WhatToDo);
        Assert.Contains("tc -s qdisc", KernelKnowledge.DropReasons["QDISC_DROP"].WhatToDo);
    }

    [Fact]
    public void A_receive_buffer_loss_names_its_counters_since_when_and_what_to_do()
    {
        var drops = Enumerable.Range(0, 20).Select(i => new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 5_000 + i * 10L, 5, 0x0800)).ToList();
        var counters = new List<CounterDelta> { new("Udp.InErrors", 100, 6_000), new("Udp.RcvbufErrors", 100, 6_000) };

        var report = Explainer.Explain(drops, counters, new ExplainOptions { KernelRelease = "6.18.0", CountersSampled = true });

        var loss = Assert.Single(report.Verdicts);
        Assert.Equal((VerdictKind.Loss, "udp_queue_rcv_one_skb", 100L, 5_000L), (loss.Kind, loss.Subject, loss.Drops, loss.FirstMs));
        Assert.Equal("100 drops [SOCKET_RCVBUFF], counted by Udp.InErrors +100 (exact), Udp.RcvbufErrors +100 (exact)", loss.Line);
        Assert.Contains("SO_RCVBUF", loss.WhatToDo);
        Assert.Equal("Udp.InErrors +100 and Udp.RcvbufErrors +100 are explained exactly by the 100 drops at udp_queue_rcv_one_skb.", report.Headline);
        Assert.Equal(10, report.BucketMs);
    }

    [Fact]
    public void Qdisc_drops_the_udp_counters_count_only_some_of_read_at_most_never_over()
    {
        var drops = new List<DropBucket> { new("__dev_queue_xmit+0x8c1", "__dev_queue_xmit", "QDISC_DROP", 5_000, 340, 0x0800) };
        var counters = new List<CounterDelta> { new("Ip.OutDiscards", 300, 6_000), new("Udp.SndbufErrors", 300, 6_000) };

        var report = Explainer.Explain(drops, counters, new ExplainOptions { KernelRelease = "6.18.0", CountersSampled = true });

        Assert.All(report.Attribution, a => Assert.Equal(AttributionMatch.AtMost, a.Match));
        Assert.Equal("340 drops [QDISC_DROP], counted by Ip.OutDiscards +300 (at most the 340 drops), Udp.SndbufErrors +300 (at most the 340 drops)",
            Assert.Single(report.Verdicts).Line);
        Assert.Equal("Ip.OutDiscards +300 and Udp.SndbufErrors +300 are counted among the 340 drops at __dev_queue_xmit, of which they count only some.", report.Headline);
        Assert.Equal("Ip.OutDiscards +300 over the same span as 340 drops (340 at __dev_queue_xmit+0x8c1 [QDISC_DROP]): it counts only some of these " +
                     "(one kind of packet, or one for several), so it rises by at most the drops, as here.", report.Sentences[0]);
        Assert.DoesNotContain(report.Sentences, s => s.Contains("not counted by it", StringComparison.Ordinal));
    }

    [Fact]
    public void A_counter_rise_with_no_drop_site_is_its_own_line_and_in_the_headline()
    {
        var report = Explainer.Explain([], [new CounterDelta("Udp.InErrors", 7, 1_000)], new ExplainOptions { CountersSampled = true });

        var line = Assert.Single(report.Verdicts);
        Assert.Equal((VerdictKind.Unexplained, "Udp.InErrors"), (line.Kind, line.Subject));
        Assert.Equal("Udp.InErrors +7 has no drop site to explain it.", report.Headline);
    }

    [Fact]
    public void In_a_filtered_view_a_rise_the_shown_drops_do_not_explain_is_not_called_unexplained()
    {
        var report = Explainer.Explain([new DropBucket("net_tx_action+0x0", "net_tx_action", null, 0, 482)], [new CounterDelta("Udp.InErrors", 174, 1_000)],
            new ExplainOptions { KernelRelease = "3.10.0", Filtered = true });

        Assert.Equal("not in this filter", report.Verdicts.Single(v => v.Subject == "Udp.InErrors").Badge);
        Assert.DoesNotContain("Udp.InErrors", report.Headline);
    }

    [Fact]
    public void Without_a_kernel_a_false_positive_says_on_which_kernels_it_is_none()
    {
        var drops = new List<DropBucket> { new("net_tx_action+0x0", "net_tx_action", null, 0, 50) };

        var report = Explainer.Explain(drops, [], new ExplainOptions { KernelRelease = "3.10.0-1160.el7.x86_64" });
        var unknown = Explainer.Explain(drops, [], new ExplainOptions());
        var recent = Explainer.Explain(drops, [], new ExplainOptions { KernelRelease = "6.18.0" });

        Assert.Equal("not a loss on kernel 3.10", Assert.Single(report.Verdicts).Badge);
        Assert.Equal("not a loss on kernels up to 3.13", unknown.Verdicts[0].Badge);
        // 6.18 reports no TX completion as a drop: its net_tx_action drops are not explained away.
        Assert.Equal(VerdictKind.Uncounted, Assert.Single(recent.Verdicts).Kind);
    }

    [Fact]
    public void Lead_lag_is_read_only_for_pairs_with_a_loss_site_best_evidence_first()
    {
        var random = new Random(5);
        var times = Enumerable.Range(0, 30).Select(_ => (long)random.Next(0, 600_000) / 10 * 10).Distinct().Order().ToList();
        // Two lossless sites that burst together, and one that leads the loss site.
        var drops = times.Select(t => new DropBucket("tcp_v4_rcv+0x77", "tcp_v4_rcv", null, t, 30))
            .Concat(times.Select(t => new DropBucket("ip_rcv_finish+0x16c", "ip_rcv_finish", null, t + 20, 30)))
            .Concat(times.Select(t => new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", t + 40, 20)))
            .Concat([new DropBucket("icmp_rcv+0x11c", "icmp_rcv", null, 5, 1)])
            .OrderBy(d => d.StartMs).ToList();

        var report = Explainer.Explain(drops, [], new ExplainOptions { BucketMs = 10, WindowStartMs = 0, WindowEndMs = 10 * Minute });

        Assert.NotEmpty(report.LeadLag);
        Assert.All(report.LeadLag, r => Assert.Contains("udp_queue_rcv_one_skb", new[] { r.Leader, r.Follower }));
        Assert.DoesNotContain(report.LeadLag, r => r.Leader == "tcp_v4_rcv" && r.Follower == "ip_rcv_finish");
        // The lone icmp_rcv drop (one burst, following nothing) comes after every pair with real evidence.
        var lone = report.LeadLag.Select((r, i) => (r, i)).Where(x => x.r.Leader == "icmp_rcv").Select(x => x.i).ToList();
        var strong = report.LeadLag.Select((r, i) => (r, i)).Where(x => x.r.Kind == LeadLagKind.Leads).Select(x => x.i).ToList();
        Assert.NotEmpty(strong);
        Assert.True(lone.All(i => i > strong.Max()), string.Join("; ", report.LeadLag));
        // The leaders of the loss site are its consequences' opposite: they stay unexplained sites, not consequences.
        var follows = report.Verdicts.Single(v => v.Subject == "udp_queue_rcv_one_skb");
        Assert.Equal(VerdictKind.Loss, follows.Kind);
    }

    [Fact]
    public void A_site_that_bursts_after_a_loss_site_is_its_consequence()
    {
        var random = new Random(6);
        var times = Enumerable.Range(0, 30).Select(_ => (long)random.Next(0, 600_000) / 10 * 10).Distinct().Order().ToList();
        var drops = times.Select(t => new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", t, 20))
            .Concat(times.Select(t => new DropBucket("ip_rcv_finish+0x16c", "ip_rcv_finish", null, t + 30, 10)))
            .OrderBy(d => d.StartMs).ToList();

        var report = Explainer.Explain(drops, [], new ExplainOptions { BucketMs = 10, WindowStartMs = 0, WindowEndMs = 10 * Minute });

        var consequence = report.Verdicts.Single(v => v.Subject == "ip_rcv_finish");
        Assert.Equal(VerdictKind.Consequence, consequence.Kind);
        Assert.Equal("consequence of udp_queue_rcv_one_skb", consequence.Badge);
    }

    [Fact]
    public void Drops_without_times_get_no_bursts_no_lead_lag_and_no_since()
    {
        var drops = new List<DropBucket>
        {
            new("udp_queue_rcv_skb+0x218", "udp_queue_rcv_skb", null, 0, 174),
            new("net_tx_action+0x0", "net_tx_action", null, 0, 482),
        };

        var report = Explainer.Explain(drops, [new CounterDelta("Udp.InErrors", 174, 0)], new ExplainOptions { KernelRelease = "3.10.0", Timed = false });

        Assert.Empty(report.Bursts);
        Assert.Empty(report.LeadLag);
        Assert.Equal(0, report.BucketMs);
        Assert.All(report.Verdicts, v => Assert.Null(v.FirstMs));
    }
}
