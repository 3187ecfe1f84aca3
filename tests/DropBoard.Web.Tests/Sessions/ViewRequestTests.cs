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
        var file = $$"""
            {"format":"dropboard-session","version":1,"name":"two namespaces","origin":"live","startedMs":{{start}},"stoppedMs":{{start + 2000}},"notes":"",
             "hosts":[{"hostId":"h1","hostName":"edge-1","kernel":"6.18.0","source":"bpf","bucketMs":10,"lostRecords":0,
               "drops":[
                 {"site":"udp_queue_rcv_one_skb+0x437","function":"udp_queue_rcv_one_skb","reason":"SOCKET_RCVBUFF","startMs":{{start + 500}},"count":70,"protocol":2048,"netns":4026532300,"netnsName":"blue"},
                 {"site":"udp_queue_rcv_one_skb+0x437","function":"udp_queue_rcv_one_skb","reason":"SOCKET_RCVBUFF","startMs":{{start + 500}},"count":30,"protocol":2048,"netns":4026532400,"netnsName":"docker 3f1e2d4c5b6a"}],
               "counters":[
                 {"name":"Udp.RcvbufErrors","delta":0,"atMs":{{start + 100}},"netns":4026532300},
                 {"name":"Udp.RcvbufErrors","delta":70,"atMs":{{start + 1000}},"netns":4026532300},
                 {"name":"Udp.RcvbufErrors","delta":30,"atMs":{{start + 1000}},"netns":4026532400}],
               "samples":[]}],
             "gaps":[]}
            """;
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        var (status, body) = await ImportAsync(app, "dropboard", new StringContent(file));
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
}
