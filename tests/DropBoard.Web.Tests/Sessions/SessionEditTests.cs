using System.Data.Common;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.TestKit;
using DropBoard.Web.Tests.Access;
using Microsoft.AspNetCore.SignalR.Client;
using static DropBoard.Web.Tests.Hub.AgentHubClient;
using static DropBoard.Web.Tests.Sessions.SessionApiReads;

namespace DropBoard.Web.Tests.Sessions;

/// <summary>Renaming and deleting sessions through the API of the real web process, checked in its database (an SQLite file, a PostgreSQL database).</summary>
public sealed class SessionEditTests
{
    private const string Token = "session-edit-agent-token";

    [Fact]
    public async Task A_session_is_renamed_and_a_bad_name_or_a_missing_session_is_refused_with_the_reason()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        var id = await CreateAsync(app, "before the fix");

        using var renamed = await app.Http.PatchAsJsonAsync($"api/sessions/{id}", new { name = "  before the rmem_max fix " });
        Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        Assert.Equal("before the rmem_max fix", await NameAsync(app, id));

        foreach (var (bad, why) in new[] { ("", "a name is required"), ("two\nlines", "no control characters"), (new string('x', 201), "at most 200 characters") })
        {
            using var refused = await app.Http.PatchAsJsonAsync($"api/sessions/{id}", new { name = bad });
            Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
            Assert.Contains(why, await refused.Content.ReadAsStringAsync());
        }
        Assert.Equal("before the rmem_max fix", await NameAsync(app, id));

        using var missing = await app.Http.PatchAsJsonAsync($"api/sessions/{id + 1000}", new { name = "nobody" });
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains($"no session {id + 1000}", await missing.Content.ReadAsStringAsync());
    }

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task A_deleted_session_takes_every_row_recorded_for_it_and_leaves_the_others_whole(string engine)
    {
        var database = await StoreEngines.NewDatabaseAsync(engine);
        await using var app = await WebAppProcess.StartAsync($"DropBoard:Database={database}", $"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await using var agent = await Connect(app, Token);
        var kept = await CreateAsync(app, "kept", "edge-1");
        var doomed = await CreateAsync(app, "doomed", "edge-1");
        // Drops, a counter, a sample and a gap (batches the agent discarded): a row in every table a session has.
        var batch = Batch("edge-1", 1, 6) with
        {
            Samples = [new DropBoard.Shared.Contracts.DropSample(1, "udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 0x0800, "eth0", 60, [0x45])],
            BatchesDiscarded = 2, DropsDiscarded = 9,
        };
        await SendUntilTakenAsync(agent, Hello("edge-1"), batch, []);
        foreach (var id in new[] { kept, doomed })
            Assert.Equal(HttpStatusCode.OK, (await app.Http.PostAsync($"api/sessions/{id}/stop", null)).StatusCode);
        var keptSites = await SitesAsync(app, kept);
        var rowsBefore = Rows(database, kept);
        Assert.Equal(rowsBefore, Rows(database, doomed));
        Assert.All(rowsBefore, table => Assert.True(table.Value > 0, $"the batch left no row in {table.Key}"));

        using var deleted = await app.Http.DeleteAsync($"api/sessions/{doomed}");

        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Http.GetAsync($"api/sessions/{doomed}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await app.Http.DeleteAsync($"api/sessions/{doomed}")).StatusCode);
        Assert.All(Rows(database, doomed), table => Assert.True(table.Value == 0, $"{table.Key} still holds {table.Value} rows of the deleted session"));
        Assert.Equal(0, Orphans(database));
        Assert.Equal(rowsBefore, Rows(database, kept));
        Assert.Equal(keptSites, await SitesAsync(app, kept));
        Assert.Equal(6, keptSites.Values.Sum());
    }

    [Fact]
    public async Task A_viewer_may_neither_rename_nor_delete_and_gets_403()
    {
        var db = WebAppProcess.NewDatabasePath();
        var viewer = WebAppProcess.NewSecret(db, "tokens", "add", "grafana", "--role", "viewer");
        var editor = WebAppProcess.NewSecret(db, "tokens", "add", "ci", "--role", "editor");
        await using var app = await AccessTests.StartSignedInAsync(db);
        using var created = await Send(app, HttpMethod.Post, "api/sessions", editor, new { name = "kept" });
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.OK, (await Send(app, HttpMethod.Post, $"api/sessions/{id}/stop", editor)).StatusCode);

        Assert.Equal(HttpStatusCode.Forbidden, (await Send(app, HttpMethod.Patch, $"api/sessions/{id}", viewer, new { name = "by a viewer" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(app, HttpMethod.Delete, $"api/sessions/{id}", viewer)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(app, HttpMethod.Delete, $"api/sessions/{id}", null)).StatusCode);
        await WaitForLogAsync(app, $"Refused DELETE /api/sessions/{id} from 127.0.0.1 for api-token 'grafana': needs the editor role");

        using var session = await Send(app, HttpMethod.Get, $"api/sessions/{id}", viewer);
        Assert.Equal("kept", (await session.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("name").GetString());
        Assert.Equal(HttpStatusCode.OK, (await Send(app, HttpMethod.Patch, $"api/sessions/{id}", editor, new { name = "renamed by the CI" })).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await Send(app, HttpMethod.Delete, $"api/sessions/{id}", editor)).StatusCode);
    }

    [Fact]
    public async Task A_recording_session_is_not_deleted_until_it_is_stopped()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        var id = await CreateAsync(app, "overnight");

        using var refused = await app.Http.DeleteAsync($"api/sessions/{id}");

        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains($"session {id} is recording: stop it first", await refused.Content.ReadAsStringAsync());
        Assert.Equal("overnight", await NameAsync(app, id));
        Assert.Equal(HttpStatusCode.OK, (await app.Http.PostAsync($"api/sessions/{id}/stop", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await app.Http.DeleteAsync($"api/sessions/{id}")).StatusCode);
    }

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task After_the_newest_session_is_deleted_a_new_one_gets_a_new_id_and_records_exactly_its_own_batches(string engine)
    {
        var database = await StoreEngines.NewDatabaseAsync(engine);
        await using var app = await WebAppProcess.StartAsync($"DropBoard:Database={database}", $"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await using var agent = await Connect(app, Token);
        var hello = Hello("edge-1");
        var answers = new List<DropBoard.Shared.Contracts.BatchAck>();

        var first = await CreateAsync(app, "first", "edge-1");
        await SendUntilTakenAsync(agent, hello, Batch("edge-1", 1, 7), answers);
        Assert.Equal(7, (await SitesAsync(app, first)).Values.Sum());
        Assert.Equal(HttpStatusCode.OK, (await app.Http.PostAsync($"api/sessions/{first}/stop", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await app.Http.DeleteAsync($"api/sessions/{first}")).StatusCode);

        var second = await CreateAsync(app, "second", "edge-1");
        await SendUntilTakenAsync(agent, hello, Batch("edge-1", 2, 5), answers);
        await SendUntilTakenAsync(agent, hello, Batch("edge-1", 3, 4), answers);

        Assert.True(second > first, $"the deleted session's id {first} was given again ({second})");
        Assert.Equal(HttpStatusCode.NotFound, (await app.Http.GetAsync($"api/sessions/{first}")).StatusCode);
        Assert.Equal(9, (await SitesAsync(app, second)).Values.Sum());
        Assert.Equal(9, (await CountersAsync(app, second))["Udp.RcvbufErrors"]);
        Assert.Equal(0, Orphans(database));
    }

    [Fact]
    public async Task An_investigation_of_a_deleted_session_says_so_on_its_page_still_shows_the_others_and_can_be_edited()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        var kept = await ImportPerfAsync(app, "the kept capture");
        var doomed = await ImportPerfAsync(app, "the deleted capture");
        using var created = await app.Http.PostAsJsonAsync("api/investigations", new { title = "before and after", sessions = new[] { doomed, kept }, notes = "rmem_max raised" });
        var slug = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("slug").GetString();

        Assert.Equal(HttpStatusCode.NoContent, (await app.Http.DeleteAsync($"api/sessions/{doomed}")).StatusCode);
        using var page = await app.Http.GetAsync($"i/{slug}");
        var html = await page.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains($"Session {doomed} was deleted", html);
        Assert.Contains("the kept capture", html);
        Assert.DoesNotContain("the deleted capture", html);
        Assert.Contains("rmem_max raised", html);
        var listed = await app.Http.GetFromJsonAsync<JsonElement>($"api/investigations?session={doomed}");
        Assert.Equal([slug], listed.EnumerateArray().Select(i => i.GetProperty("slug").GetString()));

        using var edited = await app.Http.PutAsJsonAsync($"api/investigations/{slug}", new { title = "before and after", sessions = new[] { doomed, kept }, notes = "rmem_max raised; the before capture is gone" });
        Assert.Equal(HttpStatusCode.OK, edited.StatusCode);
        using var added = await app.Http.PutAsJsonAsync($"api/investigations/{slug}", new { title = "before and after", sessions = new[] { doomed, kept, doomed + 1000 }, notes = "x" });
        Assert.Equal(HttpStatusCode.BadRequest, added.StatusCode);
        Assert.Contains($"session {doomed + 1000} does not exist", await added.Content.ReadAsStringAsync());
    }

    private static async Task<long> ImportPerfAsync(WebAppProcess app, string name)
    {
        var content = new ByteArrayContent(await File.ReadAllBytesAsync(Fixture("perf-script-kfree_skb-6.18.txt")));
        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        var (status, body) = await ImportAsync(app, "perf-script", content, $"&name={Uri.EscapeDataString(name)}");
        Assert.Equal(HttpStatusCode.Created, status);
        return body.GetProperty("sessionId").GetInt64();
    }

    private static async Task<string?> NameAsync(WebAppProcess app, long id) =>
        (await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}")).GetProperty("name").GetString();

    private static Task<HttpResponseMessage> Send(WebAppProcess app, HttpMethod method, string path, string? token, object? body = null)
    {
        var request = new HttpRequestMessage(method, path) { Content = body is null ? null : JsonContent.Create(body) };
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return app.Http.SendAsync(request);
    }

    private static readonly string[] HostTables = ["buckets", "seconds", "tens", "counters", "samples", "batches_seen"];

    /// <summary>Rows each table holds for one session, read from the file beside the running app.</summary>
    private static Dictionary<string, long> Rows(string database, long session)
    {
        using var connection = Open(database);
        var rows = HostTables.ToDictionary(t => t, t => Scalar(connection,
            $"SELECT count(*) FROM {t} WHERE session_host IN (SELECT id FROM session_hosts WHERE session_id = {session})"));
        rows["session_hosts"] = Scalar(connection, $"SELECT count(*) FROM session_hosts WHERE session_id = {session}");
        rows["gaps"] = Scalar(connection, $"SELECT count(*) FROM gaps WHERE session_id = {session}");
        return rows;
    }

    /// <summary>Rows whose session or session host no longer exists.</summary>
    private static long Orphans(string database)
    {
        using var connection = Open(database);
        return HostTables.Sum(t => Scalar(connection, $"SELECT count(*) FROM {t} WHERE session_host NOT IN (SELECT id FROM session_hosts)"))
               + Scalar(connection, "SELECT count(*) FROM session_hosts WHERE session_id NOT IN (SELECT id FROM sessions)")
               + Scalar(connection, "SELECT count(*) FROM gaps WHERE session_id NOT IN (SELECT id FROM sessions)");
    }

    private static DbConnection Open(string database) => StoreEngines.Look(database);

    private static long Scalar(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }
}
