using System.Text.Json;
using DropBoard.Agent.Watch;
using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Sessions.Import;
using DropBoard.Web.Views;

namespace DropBoard.Agent.Tests.Watch;

public class WatchOutputTests
{
    private static WatchTotals Totals()
    {
        var totals = new WatchTotals();
        totals.Add(new AgentBatch("h", 1, 0,
            [new("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 0, 100), new("net_tx_action+0x0", "net_tx_action", null, 0, 2)],
            [new("Udp.RcvbufErrors", 100, 0)], [], 0, 0));
        totals.Add(new AgentBatch("h", 2, 0,
            [new("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 10, 74)],
            [new("Udp.RcvbufErrors", 74, 0)], [], 3, 0));
        return totals;
    }

    private static ExplainReport Explain(WatchTotals totals) => Explainer.Explain(totals.Buckets, totals.Deltas, new ExplainOptions { KernelRelease = "6.18.0" });

    [Fact]
    public void Text_lines_read_like_dropwatch_and_netstat()
    {
        var lines = WatchOutput.IntervalLines(Totals(), json: false).ToList();

        Assert.Equal("174 drops at udp_queue_rcv_one_skb+0x437 [SOCKET_RCVBUFF]", lines[0]);
        Assert.Equal("2 drops at net_tx_action+0x0", lines[1]);
        Assert.Equal("Udp.RcvbufErrors +174", lines[2]);
        Assert.StartsWith("3 drop records lost", lines[3]);
    }

    [Fact]
    public void The_lost_line_names_the_setting_to_raise_when_the_source_has_one()
    {
        const string fix = "raise --ring-kb (now 4096 KiB per CPU)";
        Assert.Equal("3 drop records lost by the kernel (ring overflow): counts above are low; " + fix,
                     WatchOutput.IntervalLines(Totals(), json: false, fix).Last());
        Assert.Equal("""{"type":"lost","lost":3,"fix":"raise --ring-kb (now 4096 KiB per CPU)"}""", WatchOutput.IntervalLines(Totals(), json: true, fix).Last());
        Assert.Equal("""{"type":"lost","lost":3,"fix":null}""", WatchOutput.IntervalLines(Totals(), json: true).Last());
    }

    [Fact]
    public void Json_lines_and_summary_have_the_documented_fields()
    {
        var lines = WatchOutput.IntervalLines(Totals(), json: true).ToList();
        Assert.Equal("""{"type":"drop","function":"udp_queue_rcv_one_skb","site":"udp_queue_rcv_one_skb+0x437","reason":"SOCKET_RCVBUFF","count":174}""", lines[0]);
        Assert.Equal("""{"type":"counter","name":"Udp.RcvbufErrors","delta":174}""", lines[2]);

        var summary = JsonDocument.Parse(WatchOutput.Summary(Totals(), "tracepoint", Explain(Totals()), json: true)).RootElement;
        Assert.Equal("summary", summary.GetProperty("type").GetString());
        Assert.Equal("tracepoint", summary.GetProperty("source").GetString());
        Assert.Equal(3, summary.GetProperty("lost").GetInt64());
        Assert.Equal(174, summary.GetProperty("drops")[0].GetProperty("count").GetInt64());
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("drops")[1].GetProperty("reason").ValueKind);
        Assert.Equal(174, summary.GetProperty("counters")[0].GetProperty("delta").GetInt64());
        var attribution = summary.GetProperty("attribution")[0];
        Assert.Equal("Udp.RcvbufErrors", attribution.GetProperty("counter").GetString());
        Assert.Equal((174, 174, "Exact"), (attribution.GetProperty("delta").GetInt64(), attribution.GetProperty("explained").GetInt64(), attribution.GetProperty("match").GetString()));
        Assert.Equal("udp_queue_rcv_one_skb+0x437", attribution.GetProperty("sites")[0].GetProperty("site").GetString());
        Assert.Equal(JsonValueKind.Array, summary.GetProperty("leadLag").ValueKind);
    }

    [Fact]
    public void Text_summary_is_a_table_with_the_biggest_site_first()
    {
        var text = WatchOutput.Summary(Totals(), "tracepoint", Explain(Totals()), json: false);

        Assert.Contains("source: tracepoint, lost records: 3", text);
        Assert.True(text.IndexOf("udp_queue_rcv_one_skb", StringComparison.Ordinal) < text.IndexOf("net_tx_action", StringComparison.Ordinal));
        Assert.Contains("+174  Udp.RcvbufErrors", text);
    }

    [Fact]
    public void Text_summary_ends_with_the_verdict_and_what_to_do()
    {
        var lines = WatchOutput.Summary(Totals(), "tracepoint", Explain(Totals()), json: false, time: ms => $"t{ms}").Split('\n');

        var verdict = Array.IndexOf(lines, "Verdict:");
        Assert.Equal("Udp.RcvbufErrors +174 is explained exactly by the 174 drops at udp_queue_rcv_one_skb.", lines[verdict - 1]);
        Assert.Equal("  [loss] udp_queue_rcv_one_skb: 174 drops [SOCKET_RCVBUFF], counted by Udp.RcvbufErrors +174 (exact), since t0.", lines[verdict + 1]);
        Assert.StartsWith("  [no counter] net_tx_action: 2 drops no counter DropBoard reads sees", lines[verdict + 2]);
        Assert.Equal("What to do:", lines[verdict + 3]);
        Assert.StartsWith("  udp_queue_rcv_one_skb: ", lines[verdict + 4]);
        Assert.Contains("SO_RCVBUF", lines[verdict + 4]);
        Assert.Equal(verdict + 5, lines.Length);
        // The verdict, not the evidence's older sentences.
        Assert.DoesNotContain(lines, l => l.Contains("is explained exactly by 174 at", StringComparison.Ordinal));
    }

    [Fact]
    public void Json_summary_carries_the_verdict_as_fields()
    {
        var summary = JsonDocument.Parse(WatchOutput.Summary(Totals(), "tracepoint", Explain(Totals()), json: true)).RootElement;

        Assert.Equal("Udp.RcvbufErrors +174 is explained exactly by the 174 drops at udp_queue_rcv_one_skb.", summary.GetProperty("headline").GetString());
        var loss = summary.GetProperty("verdicts")[0];
        Assert.Equal(("Loss", "udp_queue_rcv_one_skb", 174L, "loss", 0L),
            (loss.GetProperty("kind").GetString(), loss.GetProperty("subject").GetString(), loss.GetProperty("drops").GetInt64(),
             loss.GetProperty("badge").GetString(), loss.GetProperty("firstMs").GetInt64()));
        var counter = Assert.Single(loss.GetProperty("counters").EnumerateArray());
        Assert.Equal(("Udp.RcvbufErrors", 174L, 174L, "Exact"),
            (counter.GetProperty("name").GetString(), counter.GetProperty("delta").GetInt64(), counter.GetProperty("explained").GetInt64(), counter.GetProperty("match").GetString()));
        var other = summary.GetProperty("verdicts")[1];
        Assert.Equal(("Uncounted", "net_tx_action", 0), (other.GetProperty("kind").GetString(), other.GetProperty("subject").GetString(), other.GetProperty("counters").GetArrayLength()));
        var advice = Assert.Single(summary.GetProperty("whatToDo").EnumerateArray());
        Assert.Equal("udp_queue_rcv_one_skb", Assert.Single(advice.GetProperty("subjects").EnumerateArray()).GetString());
        Assert.Equal(loss.GetProperty("whatToDo").GetString(), advice.GetProperty("what").GetString());
    }

    /// <summary>
    /// The founding case (RHEL 7's dropwatch and netstat -su, seed-rhel7) fed to watch as batches: the headline it prints is
    /// the dashboard's for the same capture imported, read by the web's own import and explanation.
    /// </summary>
    [Fact]
    public void The_founding_case_gets_the_same_headline_as_on_the_dashboard()
    {
        const string kernel = "3.10.0-1160.el7.x86_64";
        static string Seed(string file) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "seed-rhel7", file));
        var imported = Assert.Single(DropwatchImport.Parse(Seed("dropwatch-session.txt"), "seed", 1_700_000_000_000,
            Seed("netstat-su-before.txt"), Seed("netstat-su-after.txt"), kernel).Hosts);
        var web = ViewExplanation.ExplainCounts(imported.Drops, imported.Counters, DropFilter.None, kernel);

        var totals = new WatchTotals();
        totals.Add(new AgentBatch("rhel7", 1, 0, imported.Drops, imported.Counters, [], 0, 0));
        var lines = WatchOutput.Summary(totals, "netdm", WatchOutput.Explain(totals, kernel, 1000), json: false).Split('\n');

        Assert.Equal(
            "Udp.InErrors +174 is explained exactly by the 174 drops at udp_queue_rcv_skb; " +
            "the 482 drops at net_tx_action are not a loss on kernel 3.10: TX completions reported as drops until 3.14 (commit e6247027e517).",
            web.Headline);
        Assert.Equal(web.Headline, lines[Array.IndexOf(lines, "Verdict:") - 1]);
        Assert.Contains(lines, l => l.StartsWith("  [not a loss on kernel 3.10] net_tx_action: 482 drops: TX completions reported as drops until 3.14 (commit e6247027e517)", StringComparison.Ordinal));
    }
}
