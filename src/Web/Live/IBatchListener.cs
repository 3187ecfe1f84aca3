using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Live;

/// <summary>
/// Everything that wants each accepted batch (the live store, the session recorder) implements this.
/// The hub and the embedded local agent hand every batch, once, after de-duplication, to all listeners.
/// </summary>
public interface IBatchListener
{
    ValueTask OnBatchAsync(AgentHello host, AgentBatch batch, CancellationToken cancellationToken);
}

/// <summary>Told when a host's agent connection to this dashboard ends: the live store marks it, the live bus tells the other replicas.</summary>
public interface IAgentPresence
{
    void Disconnected(string hostId);
}
