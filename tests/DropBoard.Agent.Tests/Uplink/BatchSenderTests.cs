using System.Collections.Concurrent;
using DropBoard.Agent.Uplink;
using DropBoard.Shared.Contracts;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DropBoard.Agent.Tests.Uplink;

/// <summary>
/// A new agent and a dashboard from before packed batches, over real SignalR on loopback: that dashboard's hub as it was
/// (one JSON method, <c>Batch</c>). The packed path against today's dashboard is what every end-to-end agent test uses.
/// </summary>
public sealed class BatchSenderTests
{
    [Fact]
    public async Task A_dashboard_without_packed_batches_gets_every_batch_as_JSON_and_the_agent_says_so_once()
    {
        await using var dashboard = await OldDashboard.StartAsync();
        await using var connection = new HubConnectionBuilder()
            .WithUrl(dashboard.Hub)
            .AddJsonProtocol(o => o.PayloadSerializerOptions.TypeInfoResolverChain.Insert(0, ContractsJson.Default))
            .Build();
        await connection.StartAsync(TestContext.Current.CancellationToken);
        var log = new StringWriter();
        var sender = new BatchSender(log);
        var hello = new AgentHello("host-a", "host-a", "6.1.0", "netdm", "test", 10, "run-1");

        foreach (var sequence in new long[] { 1, 2, 3 })
        {
            var ack = await sender.SendAsync(connection, hello, Batch(sequence), TestContext.Current.CancellationToken);
            Assert.Equal(BatchRejection.None, ack.Rejection);
            Assert.Equal(sequence, ack.Sequence);
        }

        Assert.Equal([1, 2, 3], dashboard.Received.Select(b => b.Sequence).Order());
        Assert.All(dashboard.Received, b => Assert.Equal(40, b.Drops.Single().Count));
        Assert.False(sender.Packed);
        var said = log.ToString();
        Assert.Single(said.Split('\n'), line => line.Contains("the dashboard has no packed batches", StringComparison.Ordinal));
        Assert.Contains("Method does not exist", said, StringComparison.Ordinal);
        sender.Connected();
        Assert.True(sender.Packed);
    }

    private static AgentBatch Batch(long sequence) =>
        new("host-a", sequence, 1_700_000_000_000, [new DropBucket("udp_queue_rcv_skb+0x218", "udp_queue_rcv_skb", null, 1_700_000_000_000, 40)],
            [new CounterDelta("Udp.RcvbufErrors", 40, 1_700_000_000_000)], [], 0, 0);

    /// <summary>The agent hub of a dashboard from before <see cref="IAgentHub.PackedBatch"/>: JSON batches only.</summary>
    private sealed class OldDashboard : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private OldDashboard(WebApplication app) => _app = app;

        public ConcurrentBag<AgentBatch> Received => _app.Services.GetRequiredService<ConcurrentBag<AgentBatch>>();

        public Uri Hub => new(new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()), AgentHubContract.Path);

        public static async Task<OldDashboard> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.ClearProviders();
            builder.Services.AddSingleton(new ConcurrentBag<AgentBatch>());
            builder.Services.AddSignalR().AddJsonProtocol(o => o.PayloadSerializerOptions.TypeInfoResolverChain.Insert(0, ContractsJson.Default));
            var app = builder.Build();
            app.MapHub<OldAgentHub>(AgentHubContract.Path);
            await app.StartAsync();
            return new OldDashboard(app);
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }

    private sealed class OldAgentHub(ConcurrentBag<AgentBatch> received) : Microsoft.AspNetCore.SignalR.Hub
    {
        public BatchAck Batch(AgentHello hello, AgentBatch batch)
        {
            received.Add(batch);
            return new BatchAck(batch.Sequence, false);
        }
    }
}
