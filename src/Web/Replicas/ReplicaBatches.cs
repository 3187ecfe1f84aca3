using DropBoard.Shared.Contracts;
using DropBoard.Web.Live;

namespace DropBoard.Web.Replicas;

/// <summary>
/// Every batch this replica takes (after de-duplication and recording) goes on the live bus for the other replicas, and
/// so does the end of an agent's connection here.
/// </summary>
public sealed class ReplicaBatches(Replica replica) : IBatchListener, IAgentPresence
{
    public ValueTask OnBatchAsync(AgentHello host, AgentBatch batch, CancellationToken cancellationToken)
    {
        replica.Publish(new BusMessage(replica.Id, host, batch));
        return ValueTask.CompletedTask;
    }

    public void Disconnected(string hostId) => replica.Publish(new BusMessage(replica.Id, Disconnected: hostId));
}
