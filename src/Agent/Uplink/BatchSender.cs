using DropBoard.Shared.Contracts;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

namespace DropBoard.Agent.Uplink;

/// <summary>
/// Sends batches on one hub connection the cheapest way the dashboard takes them: packed
/// (<see cref="IAgentHub.PackedBatch"/>), or as JSON (<see cref="IAgentHub.Batch"/>) to a dashboard from before the packed
/// method, which answers that it has no such method. Told so once, it says so and sends JSON until the connection is
/// made again (<see cref="Connected"/>), when an upgraded dashboard is tried packed again.
/// </summary>
internal sealed class BatchSender(TextWriter log)
{
    private bool _packed = true;

    /// <summary>Whether the next batch goes packed.</summary>
    public bool Packed => _packed;

    public void Connected() => _packed = true;

    public async Task<BatchAck> SendAsync(HubConnection connection, AgentHello hello, AgentBatch batch, CancellationToken cancellationToken = default)
    {
        if (_packed)
        {
            try
            {
                return await connection.InvokeAsync<BatchAck>(AgentHubContract.PackedBatchMethod, hello, BatchPacking.Pack(batch), cancellationToken);
            }
            catch (HubException e) when (NoSuchMethod(e))
            {
                _packed = false;
                await log.WriteLineAsync($"dropboard-agent: the dashboard has no packed batches ({e.Message}); sending JSON, which costs it more CPU a batch: upgrade it");
            }
        }
        return await connection.InvokeAsync<BatchAck>(AgentHubContract.BatchMethod, hello, batch, cancellationToken);
    }

    // What SignalR's server answers when no hub method has that name.
    private static bool NoSuchMethod(HubException e) => e.Message.Contains("Method does not exist", StringComparison.Ordinal);
}
