using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Live;

/// <summary>
/// The one door for batches, from the hub and from the embedded agent: drops repeats by (agent instance,
/// sequence), so an agent may resend after a reconnect without counting a drop twice, and hands each new
/// batch to every listener (live store, recorder).
/// </summary>
public sealed class BatchIngest(IEnumerable<IBatchListener> listeners, ILogger<BatchIngest> logger)
{
    private readonly Dictionary<(string HostId, string InstanceId), SequenceWindow> _seen = [];

    /// <returns>False when the batch is a repeat and was not passed on.</returns>
    public async ValueTask<bool> IngestAsync(AgentHello host, AgentBatch batch, CancellationToken cancellationToken)
    {
        lock (_seen)
        {
            var key = (host.HostId, host.InstanceId);
            if (!_seen.TryGetValue(key, out var window)) _seen[key] = window = new SequenceWindow();
            if (!window.TryAdd(batch.Sequence)) return false;
        }
        foreach (var listener in listeners)
        {
            try
            {
                await listener.OnBatchAsync(host, batch, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One listener failing (a locked database) must not keep the batch from the others.
                logger.LogError(e, "{Listener} failed on batch {Sequence} of {Host}", listener.GetType().Name, batch.Sequence, host.HostName);
            }
        }
        return true;
    }

    /// <summary>Sequences seen: all up to <c>_contiguous</c>, plus those above it that came early.</summary>
    private sealed class SequenceWindow
    {
        private long _contiguous;
        private readonly HashSet<long> _above = [];

        public bool TryAdd(long sequence)
        {
            if (sequence <= _contiguous || !_above.Add(sequence)) return false;
            while (_above.Remove(_contiguous + 1)) _contiguous++;
            return true;
        }
    }
}
