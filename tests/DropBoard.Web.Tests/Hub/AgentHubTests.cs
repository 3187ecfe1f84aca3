using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using DropBoard.Web.Hub;
using static DropBoard.Web.Tests.Hub.AgentHubClient;
using Microsoft.AspNetCore.SignalR.Client;

namespace DropBoard.Web.Tests.Hub;

/// <summary>
/// The hub over real SignalR on loopback, against the real web process: what it refuses, that it says why
/// (to the agent and in its log), and that one misbehaving agent leaves the others alone.
/// </summary>
public sealed class AgentHubTests
{
    private const string Token = "hub-test-token";

    [Fact]
    public async Task A_wrong_or_missing_token_is_refused_with_401_and_logged()
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");

        var wrong = await Assert.ThrowsAsync<HttpRequestException>(() => Connect(app, "not-the-token"));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        var missing = await Assert.ThrowsAsync<HttpRequestException>(() => Connect(app, null));
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);

        await WaitForLogAsync(app, "Refused agent connection from 127.0.0.1: wrong token");
        await WaitForLogAsync(app, "Refused agent connection from 127.0.0.1: no token");
        Assert.Equal("[]", await app.Http.GetStringAsync("api/hosts"));
    }

    [Fact]
    public async Task Malformed_and_oversized_batches_are_refused_with_a_reason_and_other_agents_go_on()
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await using var good = await Connect(app, Token);
        var goodHello = Hello("good-host");
        var first = await good.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, goodHello, Batch("good-host", 1, 10));
        Assert.Equal(1, first.GetProperty("sequence").GetInt64());

        await using var bad = await Connect(app, Token);
        var badHello = Hello("bad-host");
        var mismatch = await bad.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, badHello, Batch("someone-else", 1, 5));
        Assert.Contains("batch is for host 'someone-else' but the hello says 'bad-host'", Rejected(mismatch));
        Assert.Equal(nameof(BatchRejection.Malformed), mismatch.GetProperty("rejection").GetString());
        var negative = await bad.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, badHello, Batch("bad-host", 1, -3));
        Assert.Contains("count that is not positive", Rejected(negative));
        var notABatch = await bad.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, badHello, new { hostId = "bad-host", sequence = "one" });
        Assert.Contains("the batch is not an agent batch", Rejected(notABatch));
        var notAHello = await bad.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, "garbage", 42);
        Assert.Contains("the hello is not an agent hello", Rejected(notAHello));

        // Bigger than the hub takes: the server closes that connection rather than reading it.
        await using var huge = await Connect(app, Token);
        var closed = new TaskCompletionSource<Exception?>();
        huge.Closed += e => { closed.TrySetResult(e); return Task.CompletedTask; };
        var oversized = Batch("huge-host", 1, 1) with { Drops = [new DropBucket(new string('x', AgentHubContract.MaxMessageBytes), "f", null, 0, 1)] };
        await Assert.ThrowsAnyAsync<Exception>(() => huge.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, Hello("huge-host"), oversized));
        Assert.Same(closed.Task, await Task.WhenAny(closed.Task, Task.Delay(TimeSpan.FromSeconds(10))));

        await WaitForLogAsync(app, "Rejected batch 1 from bad-host");
        await WaitForLogAsync(app, "batch is for host 'someone-else'");
        await WaitForLogAsync(app, "The maximum message size of 4194304B was exceeded");

        // The well-behaved agent was never disturbed.
        var second = await good.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, goodHello, Batch("good-host", 2, 32));
        Assert.False(second.GetProperty("duplicate").GetBoolean());
        var hosts = await app.Http.GetFromJsonAsync<JsonElement>("api/hosts");
        Assert.Equal(["good-host"], hosts.EnumerateArray().Select(h => h.GetProperty("hostId").GetString()));
        var sites = await app.Http.GetFromJsonAsync<JsonElement>("api/live/sites?host=good-host&seconds=600");
        Assert.Equal(42, sites.EnumerateArray().Sum(s => s.GetProperty("count").GetInt64()));
    }

    [Fact]
    public async Task A_resent_batch_is_acknowledged_as_a_duplicate_and_not_counted_twice()
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await using var agent = await Connect(app, Token);
        var hello = Hello("resending-host");
        await agent.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, hello, Batch("resending-host", 1, 7));
        var again = await agent.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, hello, Batch("resending-host", 1, 7));
        Assert.True(again.GetProperty("duplicate").GetBoolean());
        // A restarted agent (new instance id) counts from 1 again and is not mistaken for a repeat.
        await agent.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, hello with { InstanceId = "second-run" }, Batch("resending-host", 1, 5));

        var sites = await app.Http.GetFromJsonAsync<JsonElement>("api/live/sites?host=resending-host&seconds=600");
        Assert.Equal(12, sites.EnumerateArray().Sum(s => s.GetProperty("count").GetInt64()));
    }

    [Fact]
    public async Task Packed_batches_count_as_JSON_ones_do_and_bytes_that_are_no_batch_are_refused_with_a_reason()
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await using var agent = await Connect(app, Token);
        var hello = Hello("packed-host");
        var packed = BatchPacking.Pack(Batch("packed-host", 1, 9));

        var taken = await agent.InvokeAsync<JsonElement>(AgentHubContract.PackedBatchMethod, hello, packed);
        Assert.Equal(nameof(BatchRejection.None), taken.GetProperty("rejection").GetString());
        // The same batch again, as JSON: one agent's sequence, whichever way its batches travel.
        var again = await agent.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, hello, Batch("packed-host", 1, 9));
        Assert.True(again.GetProperty("duplicate").GetBoolean());
        await agent.InvokeAsync<JsonElement>(AgentHubContract.PackedBatchMethod, hello, BatchPacking.Pack(Batch("packed-host", 2, 4)));

        var truncated = await agent.InvokeAsync<JsonElement>(AgentHubContract.PackedBatchMethod, hello, packed[..(packed.Length / 2)]);
        Assert.Equal(nameof(BatchRejection.Malformed), truncated.GetProperty("rejection").GetString());
        Assert.Contains("the batch is not an agent batch (its packed bytes do not read as one", Rejected(truncated));
        var notBase64 = await agent.InvokeAsync<JsonElement>(AgentHubContract.PackedBatchMethod, hello, "not base64!");
        Assert.Contains("the batch is not an agent batch (not base64 bytes", Rejected(notBase64));
        var badSite = await agent.InvokeAsync<JsonElement>(AgentHubContract.PackedBatchMethod, hello,
            BatchPacking.Pack(Batch("packed-host", 3, 1) with { Drops = [new DropBucket("<b>x</b>", "udp_rcv", null, 0, 1)] }));
        Assert.Contains("drops[0].site '<b>x</b>' is not 'udp_rcv+0xOFFSET'", Rejected(badSite));
        await WaitForLogAsync(app, "Rejected batch 3 from packed-host");

        var sites = await app.Http.GetFromJsonAsync<JsonElement>("api/live/sites?host=packed-host&seconds=600");
        Assert.Equal(13, sites.EnumerateArray().Sum(s => s.GetProperty("count").GetInt64()));
    }
}
