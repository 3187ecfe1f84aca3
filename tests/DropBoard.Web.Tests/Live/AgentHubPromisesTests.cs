using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using Microsoft.AspNetCore.SignalR.Client;
using static DropBoard.Web.Tests.Hub.AgentHubClient;

namespace DropBoard.Web.Tests.Live;

/// <summary>What the README promises about the agent hub, checked with raw SignalR clients against the real web app.</summary>
public sealed class AgentHubPromisesTests
{
    private const string Token = "hub-promise-token";

    [Theory]
    [InlineData(null)]
    [InlineData("DropBoard:AgentToken=")]
    public async Task Without_an_agent_token_or_an_agent_credential_no_agent_gets_in(string? emptyToken)
    {
        string[] settings = emptyToken is null ? ["DropBoard:EmbeddedAgent=false"] : ["DropBoard:EmbeddedAgent=false", emptyToken];
        await using var app = await WebAppProcess.StartAsync(settings);

        foreach (var presented in new[] { null, "", "guess", "dropboard" })
        {
            var refused = await Assert.ThrowsAsync<HttpRequestException>(() => Connect(app, presented));
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        }

        await WaitForLogAsync(app, "Refused agent connection from 127.0.0.1: no token");
        await WaitForLogAsync(app, "Refused agent connection from 127.0.0.1: wrong token");
        Assert.Equal("[]", await app.Http.GetStringAsync("api/hosts"));
    }

    [Fact]
    public async Task The_41st_batch_in_a_second_on_one_connection_is_refused_as_too_fast_and_nothing_else_is_held_back()
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await using var other = await Connect(app, Token);
        for (var attempt = 1; ; attempt++)
        {
            await using var fast = await Connect(app, Token);
            var host = $"fast-{attempt}";
            var hello = Hello(host);
            // The hub counts by the second of the machine's monotonic clock, which this process reads too: start just
            // after a second begins, so that all 41 fall into it.
            while (Environment.TickCount64 % 1000 > 100) await Task.Delay(1);
            var second = Environment.TickCount64 / 1000;
            var answers = new List<JsonElement>();
            for (var s = 1; s <= AgentHubContract.MaxBatchesPerSecond + 1; s++)
                answers.Add(await fast.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, hello, Batch(host, s, 1)));
            var otherAnswer = await other.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, Hello("other"), Batch("other", attempt, 1));
            if (Environment.TickCount64 / 1000 != second)
            {
                Assert.True(attempt < 5, "41 batches never fitted in one second, even on a fresh connection");
                continue;
            }

            Assert.Equal(40, AgentHubContract.MaxBatchesPerSecond);
            Assert.All(answers[..40], a => Assert.Equal(nameof(BatchRejection.None), a.GetProperty("rejection").GetString()));
            Assert.StartsWith("too fast", Rejected(answers[40]));
            Assert.Equal(nameof(BatchRejection.TooFast), answers[40].GetProperty("rejection").GetString());
            // Per connection: another agent in the same second is taken.
            Assert.Equal(nameof(BatchRejection.None), otherAnswer.GetProperty("rejection").GetString());

            // The refused batch was not counted; sent again in the next second, as the agent does, it is.
            while (Environment.TickCount64 / 1000 == second) await Task.Delay(10);
            var again = await fast.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, hello, Batch(host, 41, 1));
            Assert.Equal(nameof(BatchRejection.None), again.GetProperty("rejection").GetString());
            Assert.False(again.GetProperty("duplicate").GetBoolean());
            var sites = await app.Http.GetFromJsonAsync<JsonElement>($"api/live/sites?host={host}&seconds=600");
            Assert.Equal(41, sites.EnumerateArray().Sum(s => s.GetProperty("count").GetInt64()));
            return;
        }
    }
}
