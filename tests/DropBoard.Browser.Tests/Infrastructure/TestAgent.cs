using System.Text.Json;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using Microsoft.AspNetCore.SignalR.Client;

namespace DropBoard.Browser.Tests.Infrastructure;

/// <summary>An agent on the real hub, over loopback SignalR, sending batches a test writes (names and counts it controls).</summary>
public static class TestAgent
{
    public static async Task<HubConnection> ConnectAsync(WebAppProcess app, string token)
    {
        var connection = new HubConnectionBuilder()
            .WithUrl(new Uri(app.BaseAddress, AgentHubContract.Path.TrimStart('/')), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
            .Build();
        await connection.StartAsync();
        return connection;
    }

    /// <summary>Sends a batch that the hub must take.</summary>
    public static async Task AcceptedAsync(HubConnection agent, AgentHello hello, AgentBatch batch)
    {
        var ack = await agent.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, hello, batch);
        Assert.True(ack.GetProperty("rejected").ValueKind == JsonValueKind.Null, $"the hub refused a batch: {ack}");
    }
}
