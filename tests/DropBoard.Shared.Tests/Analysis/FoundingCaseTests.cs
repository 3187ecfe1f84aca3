using System.Text.RegularExpressions;
using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Sites;

namespace DropBoard.Shared.Tests.Analysis;

/// <summary>The RHEL 7 capture the product started from: which site explains Udp InErrors +174?</summary>
public class FoundingCaseTests
{
    private const string Kernel = "3.10.0-1160.el7.x86_64";

    private static string Seed(string file) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "seed-rhel7", file));

    /// <summary>
    /// dropwatch lines, one alert a second: a new alert starts where a site repeats (an alert lists each pc once).
    /// Only the reading needed here; the product's importer lives in the web app.
    /// </summary>
    private static List<DropBucket> Drops()
    {
        var drops = new List<DropBucket>();
        var inAlert = new HashSet<string>();
        long second = 0;
        foreach (Match m in Regex.Matches(Seed("dropwatch-session.txt"), @"^(\d+) drops at (\S+) \(0x[0-9a-f]+\)", RegexOptions.Multiline))
        {
            Assert.True(DropSite.TryParse(m.Groups[2].Value, out var site));
            if (!inAlert.Add(site.ToString()))
            {
                second++;
                inAlert = [site.ToString()];
            }
            drops.Add(new DropBucket(site.ToString(), site.Function, null, second * 1000, long.Parse(m.Groups[1].Value)));
        }
        return drops;
    }

    private static long ReceiveErrors(string file) =>
        long.Parse(Regex.Match(Seed(file), @"(\d+) packet receive errors").Groups[1].Value);

    [Fact]
    public void Udp_InErrors_plus_174_is_explained_exactly_by_udp_queue_rcv_skb_and_nothing_else()
    {
        var delta = ReceiveErrors("netstat-su-after.txt") - ReceiveErrors("netstat-su-before.txt");
        Assert.Equal(174, delta);

        var report = Explainer.Explain(Drops(), [new CounterDelta("Udp.InErrors", delta, 3000)], new ExplainOptions { KernelRelease = Kernel, BucketMs = 1000, HorizonMs = 2000 });

        var inErrors = Assert.Single(report.Attribution);
        Assert.Equal(AttributionMatch.Exact, inErrors.Match);
        Assert.Equal(174, inErrors.Explained);
        var site = Assert.Single(inErrors.Sites);
        Assert.Equal("udp_queue_rcv_skb+0x218", site.Site);
        Assert.Contains(report.Sentences, s => s.StartsWith("Udp.InErrors +174 is explained exactly by 174 at udp_queue_rcv_skb+0x218"));
    }

    [Fact]
    public void Net_tx_action_is_flagged_as_TX_completions_on_3_10_and_not_on_6_8()
    {
        var old = Explainer.Explain(Drops(), [], new ExplainOptions { KernelRelease = Kernel, BucketMs = 1000 });
        var hit = Assert.Single(old.Patterns, p => p.Function == "net_tx_action");
        Assert.Equal("false-positive", hit.Kind);
        Assert.Contains("e6247027e517", hit.Source);
        Assert.Contains(old.Patterns, p => p.Function == "inet_frag_destroy" && p.Kind == "consequence");

        var recent = Explainer.Explain(Drops(), [], new ExplainOptions { KernelRelease = "6.8.0", BucketMs = 1000 });
        Assert.DoesNotContain(recent.Patterns, p => p.Function == "net_tx_action");
    }

    /// <summary>The founding question answered first, in one sentence, tied to the session's kernel.</summary>
    public const string Sentence =
        "Udp.InErrors +174 is explained exactly by the 174 drops at udp_queue_rcv_skb; " +
        "the 482 drops at net_tx_action are not a loss on kernel 3.10: TX completions reported as drops until 3.14 (commit e6247027e517).";

    [Fact]
    public void The_verdict_reads_in_one_sentence_then_one_line_per_site_that_matters()
    {
        var delta = ReceiveErrors("netstat-su-after.txt") - ReceiveErrors("netstat-su-before.txt");

        var report = Explainer.Explain(Drops(), [new CounterDelta("Udp.InErrors", delta, 3000)], new ExplainOptions { KernelRelease = Kernel, BucketMs = 1000, HorizonMs = 2000 });

        Assert.Equal(Sentence, report.Headline);
        Assert.Equal(
            [
                (VerdictKind.Loss, "udp_queue_rcv_skb", 174L),
                (VerdictKind.NotLoss, "net_tx_action", 482L),
                (VerdictKind.Consequence, "inet_frag_destroy", 25L),
                (VerdictKind.Consequence, "sk_stream_kill_queues", 1L),
                (VerdictKind.Uncounted, "5 other functions", 9L),
            ],
            report.Verdicts.Select(v => (v.Kind, v.Subject, v.Drops)));
        Assert.Contains("SO_RCVBUF", report.Verdicts[0].WhatToDo);
        Assert.Equal("not a loss on kernel 3.10", report.Verdicts[1].Badge);
        Assert.Equal("482 drops: TX completions reported as drops until 3.14 (commit e6247027e517)", report.Verdicts[1].Line);
        Assert.StartsWith("1 drop, a consequence of the application closing its socket early", report.Verdicts[3].Line);
        // The pattern is the evidence for net_tx_action, not the table's "raise no counter" apology.
        Assert.DoesNotContain(report.Sentences, s => s.Contains("net_tx_action") && s.Contains("raise no counter"));
        Assert.StartsWith("9 drops no counter DropBoard reads sees and no known pattern explains (ip_rcv_finish 4, tcp_v4_rcv 2, ", report.Verdicts[4].Line);
        // Every drop of the capture is in exactly one line.
        Assert.Equal(Drops().Sum(d => d.Count), report.Verdicts.Sum(v => v.Drops));
    }

    [Fact]
    public void One_capture_is_too_little_evidence_to_call_net_tx_action_a_leader()
    {
        var report = Explainer.Explain(Drops(), [], new ExplainOptions { KernelRelease = Kernel, BucketMs = 1000, HorizonMs = 2000 });

        // Against its own baseline (2 and 6 a second) only the 474 stands out: one burst, too few to relate.
        var burst = Assert.Single(report.Bursts, b => b.Function == "net_tx_action");
        Assert.Equal(474, burst.Total);
        var relation = report.LeadLag.Single(r => r.Leader == "net_tx_action" && r.Follower == "udp_queue_rcv_skb");
        Assert.Equal(LeadLagKind.None, relation.Kind);
    }
}
