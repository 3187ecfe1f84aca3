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
