using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using DropBoard.Web.Live;
using DropBoard.Web.Metrics;
using DropBoard.Web.Tests.Access;
using DropBoard.Web.Tests.Live;
using Microsoft.AspNetCore.SignalR.Client;
using static DropBoard.Web.Tests.Hub.AgentHubClient;

namespace DropBoard.Web.Tests.Metrics;

/// <summary>
/// <c>/metrics</c> of the real dashboard: equal to the kernel's own counts, behind sign-in, bounded per host, and
/// escaped as the exposition format says.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class MetricsTests
{
    private const string Token = "metrics-test-token";
    private const string Drops = "dropboard_drops_total", Counters = "dropboard_kernel_counter_total";

    [Fact]
    public async Task Drops_and_the_receive_buffer_counter_rise_by_exactly_what_the_kernel_counted()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        await using var app = await WebAppProcess.StartAsync($"DropBoard:EmbeddedAgentNetNamespace={ns.Name}");
        var hostId = await LiveApiReads.FirstHostAsync(app);
        var host = (await app.Http.GetFromJsonAsync<JsonElement>("api/hosts"))[0].GetProperty("hostName").GetString()!;
        bool RcvbufDrop(MetricSample s) => s["host"] == host && s["reason"] == "SOCKET_RCVBUFF";
        bool RcvbufCounter(MetricSample s) => s["host"] == host && s["counter"] == "Udp.RcvbufErrors";
        var before = await MetricsScrape.ReadAsync(app);

        var kernelBefore = ns.Snmp("Udp", "RcvbufErrors");
        UdpTraffic.OverflowReceiveBuffer(ns, 2000, port: 7201);
        var drops = ns.Snmp("Udp", "RcvbufErrors") - kernelBefore;
        Assert.True(drops > 500, $"only {drops} drops");

        // Drops leave the agent every 250 ms, the counter delta with the next one-second sample; then no more come.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        MetricsScrape after;
        while (((after = await MetricsScrape.ReadAsync(app)).Sum(Drops, RcvbufDrop) - before.Sum(Drops, RcvbufDrop) < drops
                || after.Sum(Counters, RcvbufCounter) - before.Sum(Counters, RcvbufCounter) < drops) && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        await Task.Delay(600);
        after = await MetricsScrape.ReadAsync(app);

        Assert.Equal(drops, after.Sum(Drops, RcvbufDrop) - before.Sum(Drops, RcvbufDrop));
        Assert.Equal(drops, after.Sum(Counters, RcvbufCounter) - before.Sum(Counters, RcvbufCounter));
        // The same figure the live page shows, by function and never by site (no offset in a label).
        Assert.Equal(await LiveApiReads.ReasonCountAsync(app, hostId, "SOCKET_RCVBUFF"), after.Sum(Drops, RcvbufDrop));
        Assert.All(after.Of(Drops), s => Assert.DoesNotContain("+0x", s["function"]));
        Assert.Contains(after.Of(Drops, RcvbufDrop), s => s["protocol"] == "IPv4");
        Assert.Equal(1, after.Sum("dropboard_agent_connected", s => s["host"] == host));
    }

    [Fact]
    public async Task Behind_sign_in_metrics_answer_401_without_a_token_and_200_with_a_viewer_token_and_hold_only_our_families()
    {
        var db = WebAppProcess.NewDatabasePath();
        var viewer = WebAppProcess.NewSecret(db, "tokens", "add", "prom", "--role", "viewer");
        await using var app = await AccessTests.StartSignedInAsync(db);

        Assert.Equal(HttpStatusCode.Unauthorized, (await MetricsScrape.GetAsync(app, null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await MetricsScrape.GetAsync(app, "dbt_not-a-token")).StatusCode);
        using var response = await MetricsScrape.GetAsync(app, viewer);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);

        // prometheus-net's default meters and event counters (routes, DNS names looked up, auth schemes) stay out.
        var scrape = await MetricsScrape.ReadAsync(app, viewer);
        Assert.Contains("dropboard_batches_total", scrape.Families);
        Assert.Contains("process_cpu_seconds_total", scrape.Families);
        Assert.All(scrape.Families, f => Assert.True(f.StartsWith("dropboard_") || f.StartsWith("process_") || f.StartsWith("dotnet_"), f));
    }

    [Fact]
    public async Task A_host_with_a_storm_of_sites_and_counters_gets_its_capped_series_and_the_rest_as_other()
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await using var agent = await Connect(app, Token);
        const int Sites = PrometheusMetrics.MaxSeriesPerHost + 50;
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var storm = Batch("storm-host", 1, 0) with
        {
            Drops = [.. Enumerable.Range(0, Sites).Select(i => new DropBucket($"storm_fn_{i}+0x10", $"storm_fn_{i}", "NETFILTER_DROP", now, i + 1, 0x0800))],
            Counters = [.. Enumerable.Range(0, Sites).Select(i => new CounterDelta($"Dev.veth{i}.rx_dropped", i + 1, now))],
        };
        Accepted(await agent.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, Hello("storm-host"), storm));
        Accepted(await agent.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, Hello("calm-host"), Batch("calm-host", 1, 3)));

        var scrape = await MetricsScrape.ReadAsync(app);
        var drops = scrape.Of(Drops, s => s["host"] == "storm-host").ToList();
        // The first sites in get their own series; the others are summed, nothing is lost.
        Assert.Equal(Enumerable.Range(0, PrometheusMetrics.MaxSeriesPerHost).Select(i => $"storm_fn_{i}").Order(StringComparer.Ordinal),
            drops.Where(s => s["function"] != PrometheusMetrics.Other).Select(s => s["function"]).Order(StringComparer.Ordinal));
        var other = Assert.Single(drops, s => s["function"] == PrometheusMetrics.Other);
        Assert.Equal(Enumerable.Range(PrometheusMetrics.MaxSeriesPerHost + 1, 50).Sum(), other.Value);
        Assert.Equal(Enumerable.Range(1, Sites).Sum(), drops.Sum(s => s.Value));
        var counters = scrape.Of(Counters, s => s["host"] == "storm-host").ToList();
        Assert.Equal(PrometheusMetrics.MaxSeriesPerHost, counters.Count(s => s["counter"] != PrometheusMetrics.Other));
        Assert.Equal(Enumerable.Range(1, Sites).Sum(), counters.Sum(s => s.Value));
        // The cap is each host's own.
        Assert.Equal(3, scrape.Sum(Drops, s => s["host"] == "calm-host" && s["function"] == "udp_queue_rcv_one_skb"));
        Assert.Equal(2, scrape.Sum("dropboard_batches_total", s => s["result"] == "accepted"));
    }

    [Fact]
    public async Task Names_from_agents_with_quotes_backslashes_and_markup_come_out_escaped_per_the_exposition_format()
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await using var agent = await Connect(app, Token);
        const string host = """web "7" \ <b>x</b>""", counter = """Dev.<i>"q"\x.rx_dropped""";
        var batch = Batch(host, 1, 0) with { Drops = [], Counters = [new CounterDelta(counter, 5, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())] };
        Accepted(await agent.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, Hello(host), batch));

        var scrape = await MetricsScrape.ReadAsync(app);
        Assert.Contains("""dropboard_kernel_counter_total{host="web \"7\" \\ <b>x</b>",counter="Dev.<i>\"q\"\\x.rx_dropped"} 5""", scrape.Text.Split('\n'));
        Assert.Equal(5, scrape.Sum(Counters, s => s["host"] == host && s["counter"] == counter));
    }

    [Fact]
    public async Task A_name_with_a_line_break_stays_on_its_line_and_a_long_one_is_cut()
    {
        // The embedded agent's names do not pass the hub's checks: the host name is whatever the kernel says.
        var metrics = new PrometheusMetrics(new LiveStore(TimeProvider.System));
        var longName = new string('h', 1000);
        await metrics.OnBatchAsync(Hello("two\nlines"), Batch("two\nlines", 1, 4), CancellationToken.None);
        await metrics.OnBatchAsync(Hello(longName), Batch(longName, 1, 6), CancellationToken.None);

        var scrape = await Export(metrics);
        Assert.Contains("""dropboard_drops_total{host="two\nlines",function="udp_queue_rcv_one_skb",reason="SOCKET_RCVBUFF",protocol="unknown"} 4""", scrape.Text.Split('\n'));
        Assert.Equal(4, scrape.Sum(Drops, s => s["host"] == "two\nlines"));
        var cut = Assert.Single(scrape.Of(Drops, s => s["host"].StartsWith("hhh"))).Labels["host"];
        Assert.Equal(PrometheusMetrics.MaxLabelLength, cut.Length);
        Assert.EndsWith("h…", cut);
    }

    [Fact]
    public async Task Repeats_and_refusals_are_counted_from_the_hubs_answer_and_accepted_batches_from_the_door()
    {
        var metrics = new PrometheusMetrics(new LiveStore(TimeProvider.System));
        await metrics.OnBatchAsync(Hello("h"), Batch("h", 1, 1) with { LostRecords = 7 }, CancellationToken.None);
        Assert.Equal(BatchRejection.TooFast, metrics.Answered(BatchAck.Refused(2, BatchRejection.TooFast, "too fast")).Rejection);
        metrics.Answered(BatchAck.Refused(2, BatchRejection.Malformed, "bad"));
        metrics.Answered(new BatchAck(1, Duplicate: true));
        metrics.Answered(new BatchAck(3, Duplicate: false));

        var scrape = await Export(metrics);
        Assert.Equal(1, scrape.Sum("dropboard_batches_total", s => s["result"] == "accepted"));
        Assert.Equal(1, scrape.Sum("dropboard_batches_total", s => s["result"] == "duplicate"));
        Assert.Equal(2, scrape.Sum("dropboard_batches_total", s => s["result"] == "rejected"));
        Assert.Equal(7, scrape.Sum("dropboard_agent_lost_records_total", s => s["host"] == "h"));
    }

    private static void Accepted(JsonElement ack) =>
        Assert.True(ack.GetProperty("rejected").ValueKind == JsonValueKind.Null, $"the batch was refused: {ack}");

    private static async Task<MetricsScrape> Export(PrometheusMetrics metrics)
    {
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream);
        return MetricsScrape.Parse(Encoding.UTF8.GetString(stream.ToArray()));
    }
}
