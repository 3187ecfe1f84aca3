using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using Microsoft.AspNetCore.SignalR.Client;

namespace DropBoard.Web.Tests.Hub;

/// <summary>A raw agent over real SignalR: a connection with a credential, and small hellos and batches to send on it.</summary>
public static class AgentHubClient
{
    public static async Task<HubConnection> Connect(WebAppProcess app, string? token)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(app.BaseAddress, AgentHubContract.Path.TrimStart('/')), o => o.AccessTokenProvider = () => Task.FromResult(token))
            .Build();
        try
        {
            await connection.StartAsync();
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    public static AgentHello Hello(string host) => new(host, host, "6.18.0-test", "tracepoint", "test", 10, "first-run");

    public static AgentBatch Batch(string host, long sequence, long drops)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        return new AgentBatch(host, sequence, now,
            [new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", now / 10 * 10, drops)],
            [new CounterDelta("Udp.RcvbufErrors", Math.Max(0, drops), now)], [], 0, 0);
    }

    /// <summary>
    /// Sends a batch as an agent does: answered <see cref="BatchRejection.Retry"/> (or too fast), it waits <paramref name="pause"/>
    /// and sends the same batch again before any later one, until it is taken (or answered as a repeat). Every answer goes
    /// into <paramref name="answers"/>; fails after two minutes of "retry".
    /// </summary>
    public static async Task<BatchAck> SendUntilTakenAsync(HubConnection connection, AgentHello hello, AgentBatch batch, List<BatchAck> answers, TimeSpan? pause = null)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            using var unanswered = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            var ack = await connection.InvokeAsync<BatchAck>(AgentHubContract.BatchMethod, hello, batch, unanswered.Token);
            lock (answers) answers.Add(ack);
            if (ack.Rejection == BatchRejection.None) return ack;
            if (ack.Rejection is not (BatchRejection.Retry or BatchRejection.TooFast) || DateTime.UtcNow > deadline)
                throw new Xunit.Sdk.XunitException($"batch {batch.Sequence} was answered {ack.Rejection}: {ack.Rejected}");
            await Task.Delay(pause ?? TimeSpan.FromMilliseconds(500));
        }
    }

    /// <summary>Why the hub refused a batch; fails when it was accepted.</summary>
    public static string Rejected(System.Text.Json.JsonElement ack) =>
        ack.GetProperty("rejected").GetString() ?? throw new Xunit.Sdk.XunitException($"the batch was accepted: {ack}");

    /// <summary>Waits up to 5 s for the app to log <paramref name="text"/>.</summary>
    public static async Task WaitForLogAsync(WebAppProcess app, string text)
    {
        for (var i = 0; i < 50 && !app.Log.Contains(text, StringComparison.Ordinal); i++) await Task.Delay(100);
        Assert.Contains(text, app.Log);
    }
}
