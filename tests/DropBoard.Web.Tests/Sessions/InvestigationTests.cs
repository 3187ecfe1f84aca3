using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.TestKit;
using DropBoard.Web.Investigations;
using static DropBoard.Web.Tests.Sessions.SessionApiReads;

namespace DropBoard.Web.Tests.Sessions;

public sealed class InvestigationTests
{
    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task An_investigation_keeps_its_view_under_an_unguessable_link_and_every_edit_keeps_the_previous_version(string engine)
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:Database={await StoreEngines.NewDatabaseAsync(engine)}", "DropBoard:EmbeddedAgent=false");
        var (_, imported) = await ImportAsync(app, "dropwatch", Dropwatch(Fixture("seed-rhel7", "dropwatch-session.txt")));
        var session = imported.GetProperty("sessionId").GetInt64();

        using var created = await app.Http.PostAsJsonAsync("api/investigations", new
        {
            title = "TPROXY loss", sessions = new[] { session }, notes = "**174** at `udp_queue_rcv_skb`",
            filters = new { reason = "SOCKET_RCVBUFF" }, pinned = new[] { "udp_queue_rcv_skb+0x218" },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var link = await created.Content.ReadFromJsonAsync<JsonElement>();
        var slug = link.GetProperty("slug").GetString()!;
        Assert.True(Convert.FromBase64String(slug.Replace('-', '+').Replace('_', '/') + "==").Length * 8 >= 64);
        Assert.EndsWith($"/i/{slug}", link.GetProperty("url").GetString());

        using var edited = await app.Http.PutAsJsonAsync($"api/investigations/{slug}", new { title = "TPROXY loss: explained", sessions = new[] { session }, notes = "fixed by rmem_max" });
        Assert.Equal(HttpStatusCode.OK, edited.StatusCode);

        var saved = await app.Http.GetFromJsonAsync<JsonElement>($"api/investigations/{slug}");
        Assert.Equal(2, saved.GetProperty("version").GetInt32());
        Assert.Equal("TPROXY loss: explained", saved.GetProperty("body").GetProperty("title").GetString());
        var previous = saved.GetProperty("history").EnumerateArray().Single();
        Assert.Equal(1, previous.GetProperty("version").GetInt32());
        Assert.Equal("SOCKET_RCVBUFF", previous.GetProperty("body").GetProperty("filters").GetProperty("reason").GetString());
        Assert.Equal("udp_queue_rcv_skb+0x218", previous.GetProperty("body").GetProperty("pinned")[0].GetString());
    }

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task An_investigation_of_a_session_that_does_not_exist_is_refused(string engine)
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:Database={await StoreEngines.NewDatabaseAsync(engine)}", "DropBoard:EmbeddedAgent=false");
        using var response = await app.Http.PostAsJsonAsync("api/investigations", new { title = "x", sessions = new[] { 42 }, notes = "" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("session 42 does not exist", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await app.Http.GetAsync("api/investigations/AAAAAAAAAAAAAAAAAAAAAA")).StatusCode);
    }

    [Theory]
    [InlineData("<script>alert(1)</script>", "<script")]
    [InlineData("<img src=x onerror=alert(1)>", "<img")]
    [InlineData("[click](javascript:alert(1))", "href=\"javascript:")]
    [InlineData("<a href=\"javascript:alert(1)\">x</a>", "<a href")]
    [InlineData("<iframe src=\"https://evil\"></iframe>", "<iframe")]
    public void Notes_render_as_markdown_and_no_script_gets_through(string notes, string forbidden)
    {
        var html = InvestigationNotes.ToHtml("# Findings\n\n" + notes);
        Assert.Contains("<h1", html);
        Assert.DoesNotContain(forbidden, html, StringComparison.OrdinalIgnoreCase);
    }
}
