using DropBoard.Shared.Contracts;
using DropBoard.Web.Sessions;

namespace DropBoard.Web.Live;

/// <summary>
/// The one door for batches, from the hub and from the embedded agent. A batch of a host that sessions record is
/// acknowledged only once it is committed to them (<see cref="SessionRecorder"/>); one that could not be stored is
/// answered <see cref="BatchRejection.Retry"/> and left unseen, so its resend is taken. Repeats are dropped by
/// (agent instance, sequence), so a resend never counts twice. The live listeners (live store, metrics) see each batch
/// once, when it is taken: for a recorded host after its commit, for any other at once.
/// </summary>
public sealed class BatchIngest(IEnumerable<IBatchListener> listeners, SessionRecorder recorder, TimeProvider clock, ILogger<BatchIngest> logger)
{
    /// <summary>A window not used for this long is forgotten: its agent stopped, restarted (new instance) or went away.</summary>
    public static readonly TimeSpan IdleExpiry = TimeSpan.FromMinutes(30);

    private readonly Dictionary<(string HostId, string InstanceId), SequenceWindow> _seen = [];
    private DateTimeOffset _nextExpiry = DateTimeOffset.MinValue;

    public async ValueTask<BatchAck> IngestAsync(AgentHello host, AgentBatch batch, CancellationToken cancellationToken)
    {
        var key = (host.HostId, host.InstanceId);
        SequenceWindow? window;
        lock (_seen)
        {
            var now = clock.GetUtcNow();
            Expire(now);
            if (!_seen.TryGetValue(key, out window)) _seen[key] = window = new SequenceWindow();
            window.LastUsed = now;
            switch (window.Begin(batch.Sequence))
            {
                case SequenceWindow.Verdict.Repeat:
                    return new BatchAck(batch.Sequence, Duplicate: true);
                case SequenceWindow.Verdict.Storing:
                    return BatchAck.Refused(batch.Sequence, BatchRejection.Retry, "this batch is being stored already: send it again later");
            }
        }

        string? why;
        try
        {
            why = await recorder.RecordAsync(host, batch, cancellationToken);
        }
        catch
        {
            lock (_seen) window.Abandon(batch.Sequence);
            throw;
        }
        lock (_seen)
        {
            if (why is not null)
            {
                window.Abandon(batch.Sequence);
                return BatchAck.Refused(batch.Sequence, BatchRejection.Retry, $"not stored, send it again later: {why}");
            }
            window.Take(batch.Sequence);
        }
        foreach (var listener in listeners)
        {
            try
            {
                await listener.OnBatchAsync(host, batch, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One listener failing must not keep the batch from the others; it is recorded already.
                logger.LogError(e, "{Listener} failed on batch {Sequence} of {Host}", listener.GetType().Name, batch.Sequence, host.HostName);
            }
        }
        return new BatchAck(batch.Sequence, Duplicate: false);
    }

    /// <summary>
    /// Another replica took this batch (the live bus said so): from now on it is a repeat here too, so a resend after its
    /// agent fails over to this replica is not counted again.
    /// </summary>
    /// <returns>False when this replica has it already, or is storing it now: its own listeners see it then.</returns>
    public bool TakenElsewhere(AgentHello host, long sequence)
    {
        lock (_seen)
        {
            var now = clock.GetUtcNow();
            Expire(now);
            var key = (host.HostId, host.InstanceId);
            if (!_seen.TryGetValue(key, out var window)) _seen[key] = window = new SequenceWindow();
            window.LastUsed = now;
            if (window.Begin(sequence) != SequenceWindow.Verdict.New) return false;
            window.Take(sequence);
            return true;
        }
    }

    /// <summary>Forgets idle windows, at most once a minute; the caller holds the lock.</summary>
    private void Expire(DateTimeOffset now)
    {
        if (now < _nextExpiry) return;
        _nextExpiry = now + TimeSpan.FromMinutes(1);
        foreach (var (key, window) in _seen)
            if (now - window.LastUsed > IdleExpiry && !window.Busy)
                _seen.Remove(key);
    }
}

/// <summary>
/// Which sequences of one agent instance were taken, and which are being stored. An agent numbers its batches 1, 2, 3…
/// from its start and sends them in that order, a refused one again before any later one; so the last
/// <see cref="Span"/> sequences below the highest taken are remembered bit by bit, and one further back can only be a
/// repeat. The window starts at the first sequence it sees, whatever it is: one opened for an agent that has run for
/// days (after a dashboard restart) costs the same as any other, and a gap (batches the agent's spool evicted, or set
/// aside as malformed) costs nothing. Pure and not thread-safe: the door locks around it.
/// </summary>
public sealed class SequenceWindow
{
    public const int Span = 1024;

    public enum Verdict { New, Repeat, Storing }

    private readonly ulong[] _bits = new ulong[Span / 64];
    private readonly HashSet<long> _storing = [];
    private long _highest;

    public DateTimeOffset LastUsed { get; set; }

    /// <summary>Batches of this instance are being stored now.</summary>
    public bool Busy => _storing.Count > 0;

    /// <summary>New sequences are marked as being stored until <see cref="Take"/> or <see cref="Abandon"/>.</summary>
    public Verdict Begin(long sequence)
    {
        if (Taken(sequence)) return Verdict.Repeat;
        return _storing.Add(sequence) ? Verdict.New : Verdict.Storing;
    }

    /// <summary>It is stored: from now on it is a repeat.</summary>
    public void Take(long sequence)
    {
        _storing.Remove(sequence);
        if (_highest != 0 && sequence <= _highest - Span) return;
        if (sequence > _highest)
        {
            // The slots of the sequences passed over now stand for new ones: none of those is taken yet.
            var from = _highest == 0 ? sequence : Math.Max(_highest + 1, sequence - Span + 1);
            for (var s = from; s <= sequence; s++) _bits[Slot(s) / 64] &= ~(1UL << Slot(s) % 64);
            _highest = sequence;
        }
        _bits[Slot(sequence) / 64] |= 1UL << Slot(sequence) % 64;
    }

    /// <summary>It could not be stored: the resend is new.</summary>
    public void Abandon(long sequence) => _storing.Remove(sequence);

    private bool Taken(long sequence)
    {
        if (_highest == 0 || sequence > _highest) return false;
        if (sequence <= _highest - Span) return true;
        return (_bits[Slot(sequence) / 64] & (1UL << Slot(sequence) % 64)) != 0;
    }

    private static int Slot(long sequence) => (int)(sequence % Span);
}
