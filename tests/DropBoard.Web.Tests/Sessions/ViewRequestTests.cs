using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.TestKit;
using static DropBoard.Web.Tests.Sessions.SessionApiReads;

namespace DropBoard.Web.Tests.Sessions;

/// <summary>One view request narrows every panel alike: a filter on a session reaches its sites and its Explain.</summary>
public sealed class ViewRequestTests
{
    [Fact]
    public async Task A_filter_narrows_the_sites_and_the_explanation_alike()
    {
        var perf = Fixture("perf-script-kfree_skb-6.18.txt");
        // Counted from the file itself, not from DropBoard: perf script prints one line per drop.
        var noSocket = File.ReadLines(perf).Count(l => l.EndsWith("reason: NO_SOCKET", StringComparison.Ordinal));
        var rcvbuf = File.ReadLines(perf).Count(l => l.EndsWith("reason: SOCKET_RCVBUFF", StringComparison.Ordinal));
        Assert.True(noSocket > 0 && rcvbuf > 0, "the fixture has drops of both reasons");
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        var (status, body) = await ImportAsync(app, "perf-script", new StreamContent(File.OpenRead(perf)), "&name=two%20reasons");
        Assert.Equal(HttpStatusCode.Created, status);
        var id = body.GetProperty("sessionId").GetInt64();

        var all = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/sites");
        var filtered = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/sites?reason=NO_SOCKET");
        Assert.Equal(noSocket + rcvbuf, all.EnumerateArray().Sum(s => s.GetProperty("count").GetInt64()));
        Assert.Equal(noSocket, filtered.EnumerateArray().Sum(s => s.GetProperty("count").GetInt64()));
        Assert.All(filtered.EnumerateArray(), s => Assert.Equal("NO_SOCKET", s.GetProperty("reason").GetString()));

        // Explain follows the same request: the founding case's net_tx_action drops leave it with a site filter.
        var founding = Fixture("seed-rhel7", "dropwatch-session.txt");
        var (foundingStatus, foundingBody) = await ImportAsync(app, "dropwatch",
            Dropwatch(founding, Fixture("seed-rhel7", "netstat-su-before.txt"), Fixture("seed-rhel7", "netstat-su-after.txt")));
        Assert.Equal(HttpStatusCode.Created, foundingStatus);
        var foundingId = foundingBody.GetProperty("sessionId").GetInt64();
        var explainAll = await app.Http.GetStringAsync($"api/sessions/{foundingId}/explain");
        var explainFiltered = await app.Http.GetStringAsync($"api/sessions/{foundingId}/explain?site=udp_queue_rcv_skb");
        Assert.Contains("net_tx_action", explainAll);
        Assert.Contains("udp_queue_rcv_skb", explainAll);
        Assert.DoesNotContain("net_tx_action", explainFiltered);
        Assert.Contains("udp_queue_rcv_skb", explainFiltered);
    }

    [Fact]
    public async Task A_session_keeps_each_drop_and_counter_in_its_network_namespace_filters_by_it_and_exports_it_back()
    {
        // What the bpf source records: one site dropping in two namespaces, each namespace's own counter.
        const long start = 1_750_000_000_000;
        var file = OneHostSessionFile("two namespaces", "bpf", start, start + 2000,
            $$"""
            {"site":"udp_queue_rcv_one_skb+0x437","function":"udp_queue_rcv_one_skb","reason":"SOCKET_RCVBUFF","startMs":{{start + 500}},"count":70,"protocol":2048,"netns":4026532300,"netnsName":"blue"},
            {"site":"udp_queue_rcv_one_skb+0x437","function":"udp_queue_rcv_one_skb","reason":"SOCKET_RCVBUFF","startMs":{{start + 500}},"count":30,"protocol":2048,"netns":4026532400,"netnsName":"docker 3f1e2d4c5b6a"}
            """,
            $$"""
            {"name":"Udp.RcvbufErrors","delta":0,"atMs":{{start + 100}},"netns":4026532300},
            {"name":"Udp.RcvbufErrors","delta":70,"atMs":{{start + 1000}},"netns":4026532300},
            {"name":"Udp.RcvbufErrors","delta":30,"atMs":{{start + 1000}},"netns":4026532400}
            """);
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        var (status, body) = await ImportAsync(app, "dropboard", file);
        Assert.True(status == HttpStatusCode.Created, body.ToString());
        var id = body.GetProperty("sessionId").GetInt64();

        var sites = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/sites");
        Assert.Equal([(70L, 4026532300u, "blue"), (30L, 4026532400u, "docker 3f1e2d4c5b6a")],
            sites.EnumerateArray().Select(s => (s.GetProperty("count").GetInt64(), s.GetProperty("netns").GetUInt32(), s.GetProperty("netnsName").GetString())));
        var docker = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/sites?netns=4026532400");
        Assert.Equal(30, docker.EnumerateArray().Single().GetProperty("count").GetInt64());
        var counters = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/counters?netns=4026532400");
        Assert.Equal((30L, 4026532400u), (counters.EnumerateArray().Single().GetProperty("delta").GetInt64(), counters.EnumerateArray().Single().GetProperty("netns").GetUInt32()));

        var explain = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/explain");
        var rows = explain.GetProperty("attribution").EnumerateArray().Where(a => a.GetProperty("counter").GetString() == "Udp.RcvbufErrors")
            .Select(a => (a.GetProperty("netns").GetUInt32(), a.GetProperty("delta").GetInt64(), a.GetProperty("explained").GetInt64(), a.GetProperty("match").GetString()));
        Assert.Equal([(4026532300u, 70L, 70L, "Exact"), (4026532400u, 30L, 30L, "Exact")], rows);

        var exported = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/export?format=json");
        var drops = exported.GetProperty("hosts")[0].GetProperty("drops").EnumerateArray();
        Assert.Equal(["blue", "docker 3f1e2d4c5b6a"], drops.Select(d => d.GetProperty("netnsName").GetString()).Order());
        Assert.Equal(3, exported.GetProperty("hosts")[0].GetProperty("counters").EnumerateArray().Count(c => c.TryGetProperty("netns", out _)));
    }

    [Fact]
    public async Task Explain_follows_every_filter_its_verdict_names_only_the_filtered_sites()
    {
        var perf = Fixture("perf-script-kfree_skb-6.18.txt");
        var noSocket = File.ReadLines(perf).Count(l => l.EndsWith("reason: NO_SOCKET", StringComparison.Ordinal));
        // The same drops seen through a dropwatch terminal with an AF_UNIX free among them.
        var terminal = Path.Combine(Path.GetTempPath(), $"dropwatch-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(terminal, "174 drops at udp_queue_rcv_skb+218 (0xffffffff81538c78)\n40 drops at unix_stream_read_generic+1c4 (0xffffffff815a01c4)\n");
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        try
        {
            var (_, body) = await ImportAsync(app, "perf-script", new StreamContent(File.OpenRead(perf)), "&name=two%20reasons");
            var id = body.GetProperty("sessionId").GetInt64();
            var (_, unixBody) = await ImportAsync(app, "dropwatch", Dropwatch(terminal), "&kernel=3.10.0");
            var unixId = unixBody.GetProperty("sessionId").GetInt64();

            // By reason: the verdict, the sentences and the attribution name only NO_SOCKET's site.
            var all = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/explain");
            var byReason = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/explain?reason=NO_SOCKET");
            Assert.Equal(["__udp4_lib_rcv", "udp_queue_rcv_one_skb"], Subjects(all).Order(StringComparer.Ordinal));
            Assert.Equal(["__udp4_lib_rcv"], Subjects(byReason));
            Assert.Equal(noSocket, byReason.GetProperty("verdicts")[0].GetProperty("drops").GetInt64());
            Assert.DoesNotContain("udp_queue_rcv_one_skb", byReason.GetRawText());
            Assert.DoesNotContain("SOCKET_RCVBUFF", byReason.GetRawText());
            // By protocol: nothing of IPv6 in an IPv4 capture.
            var ipv6 = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/explain?protocol=IPv6");
            Assert.Empty(Subjects(ipv6));

            // Non-network frees: in by default for scripts, out with nonNetwork=false, from sites and Explain alike.
            var withUnix = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{unixId}/explain");
            var withoutUnix = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{unixId}/explain?nonNetwork=false");
            var sitesWithoutUnix = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{unixId}/sites?nonNetwork=false");
            Assert.Equal(["udp_queue_rcv_skb", "unix_stream_read_generic"], Subjects(withUnix));
            Assert.Equal(["udp_queue_rcv_skb"], Subjects(withoutUnix));
            Assert.DoesNotContain("unix_stream_read_generic", withoutUnix.GetRawText());
            Assert.Equal([("udp_queue_rcv_skb+0x218", 174L)], sitesWithoutUnix.EnumerateArray().Select(s => (s.GetProperty("site").GetString()!, s.GetProperty("count").GetInt64())));
        }
        finally
        {
            File.Delete(terminal);
        }
    }

    private static List<string> Subjects(JsonElement report) =>
        report.GetProperty("verdicts").EnumerateArray().Select(v => v.GetProperty("subject").GetString()!).ToList();
}
