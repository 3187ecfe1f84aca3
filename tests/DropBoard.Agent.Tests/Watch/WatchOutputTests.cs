using System.Text.Json;
using DropBoard.Agent.Watch;
using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;

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
        Assert.Contains("Udp.RcvbufErrors +174 is explained exactly by 174 at udp_queue_rcv_one_skb+0x437 [SOCKET_RCVBUFF]", text);
    }
}
