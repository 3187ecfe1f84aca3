using DropBoard.Shared.Contracts;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.TestKit;
using Microsoft.AspNetCore.SignalR.Client;
using static DropBoard.Web.Tests.Hub.AgentHubClient;

namespace DropBoard.Web.Tests.Access;

/// <summary>
/// Per-host agent credentials over real SignalR: an agent speaks only for its own host, and a revoked credential
/// loses its open connection within seconds.
/// </summary>
public sealed class AgentCredentialHubTests
{
    [Fact]
    public async Task A_credential_speaks_only_for_its_own_host_and_machine()
    {
        var db = WebAppProcess.NewDatabasePath();
        var web01 = WebAppProcess.NewSecret(db, "agents", "add", "web-01");
        var web02 = WebAppProcess.NewSecret(db, "agents", "add", "web-02");
        var reader = WebAppProcess.NewSecret(db, "tokens", "add", "reader", "--role", "viewer");
        await using var app = await AccessTests.StartSignedInAsync(db);
        await using var agent01 = await Connect(app, web01);
        await using var agent02 = await Connect(app, web02);

        var own = await agent01.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, Hello("web-01"), Batch("web-01", 1, 7));
        Assert.Equal(JsonValueKind.Null, own.GetProperty("rejected").ValueKind);
        // web-02's credential sending as web-01: by name, and by web-01's machine id under its own name.
        var asAnother = await agent02.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, Hello("web-01"), Batch("web-01", 1, 50));
        Assert.Contains("the credential is for host 'web-02'", Rejected(asAnother));
        // The agent acts on the kind of refusal (stop, not set the batch aside), never on the wording.
        Assert.Equal(nameof(BatchRejection.Forbidden), asAnother.GetProperty("rejection").GetString());
        var sameMachine = Hello("web-01") with { HostName = "web-02" };
        Assert.Contains("machine web-01 speaks with the credential for 'web-01'",
            Rejected(await agent02.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, sameMachine, Batch("web-01", 2, 50))));
        await WaitForLogAsync(app, "the credential is for host 'web-02', the batch says it is from 'web-01'");

        using var api = new HttpClient { BaseAddress = app.BaseAddress };
        api.DefaultRequestHeaders.Authorization = new("Bearer", reader);
        var sites = await api.GetFromJsonAsync<JsonElement>("api/live/sites?host=web-01&seconds=600");
        Assert.Equal(7, sites.EnumerateArray().Sum(s => s.GetProperty("count").GetInt64()));
        // An agent credential reads nothing.
        api.DefaultRequestHeaders.Authorization = new("Bearer", web01);
        Assert.Equal(HttpStatusCode.Forbidden, (await api.GetAsync("api/hosts")).StatusCode);
    }

    [Fact]
    public async Task A_revoked_credential_loses_its_open_connection_within_seconds_and_cannot_reconnect()
    {
        var db = WebAppProcess.NewDatabasePath();
        var secret = WebAppProcess.NewSecret(db, "agents", "add", "db-07");
        await using var app = await AccessTests.StartSignedInAsync(db);
        await using var agent = await Connect(app, secret);
        await agent.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, Hello("db-07"), Batch("db-07", 1, 3));
        var closed = new TaskCompletionSource();
        agent.Closed += _ =>
        {
            closed.TrySetResult();
            return Task.CompletedTask;
        };

        Assert.Equal(0, WebAppProcess.Admin(db, "agents", "revoke", "db-07").ExitCode);
        var seconds = await AccessTests.SecondsUntilAsync(() => Task.FromResult(closed.Task.IsCompleted));

        Assert.True(seconds <= 6, $"the revoked agent stayed connected for {seconds:0.0} s");
        await WaitForLogAsync(app, "(db-07): its credential was revoked");
        var again = await Assert.ThrowsAsync<HttpRequestException>(() => Connect(app, secret));
        Assert.Equal(HttpStatusCode.Unauthorized, again.StatusCode);
    }
}
