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
}
