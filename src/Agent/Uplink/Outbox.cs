using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Uplink;

/// <summary>A batch to send: read from its spool <see cref="File"/>, or still in memory (<see cref="InMemory"/>).</summary>
public sealed record Pending(SpoolEntry Entry, string? File, Outbox.Held? InMemory);

/// <summary>
/// Every batch from capture until the server acknowledged it, in order. Batches go to the <see cref="Spool"/>; while it
/// cannot take them (full disk, write error, <c>--spool-max</c>) they wait in memory, up to a bound in bytes, and move to the
/// spool, oldest first, as soon as it can. Past the bound a batch is discarded: counted, said on stderr once per run of
/// discards, and carried in the next batch kept (<see cref="AgentBatch.BatchesDiscarded"/>), as is the spool's trouble
/// (<see cref="AgentBatch.SpoolProblem"/>). The capture side adds while the sending side reads and removes.
/// </summary>
public sealed class Outbox(Spool spool, long backlogBytes, TextWriter say)
{
    /// <summary>A batch in memory; <see cref="File"/> once it moved to the spool while being sent.</summary>
    public sealed class Held(long sequence, byte[] bytes)
    {
        public long Sequence { get; } = sequence;
        public byte[] Bytes { get; } = bytes;
        public string? File { get; set; }
    }

    /// <summary>Bounds what the dashboard is asked to show of a write error.</summary>
    private const int MaxProblemLength = 200;

    private readonly Lock _lock = new();
    private readonly Queue<Held> _memory = new();
    private readonly SemaphoreSlim _added = new(0);
    private readonly SortedDictionary<string, long> _discardedByReason = new(StringComparer.Ordinal);
    private readonly SortedDictionary<string, long> _discardedInAllByReason = new(StringComparer.Ordinal);
    private long _memoryBytes;
    private string? _problem;
    // Discarded since the last batch kept: what that batch carries to the dashboard.
    private long _unreportedBatches;
    private long _unreportedDrops;
    // Discarded since memory last filled up: said once when it does, and once when it has room again.
    private long _episodeBatches;
    private long _episodeDrops;

    public long DiscardedBatches { get; private set; }
    public long DiscardedDrops { get; private set; }

    /// <summary>Batches not acknowledged yet, on disk and in memory.</summary>
    public int Unsent
    {
        get { lock (_lock) return spool.Count + _memory.Count; }
    }

    /// <summary>Where the unsent batches are, for messages.</summary>
    public string Describe()
    {
        lock (_lock) return _memory.Count == 0 ? $"{spool.Count} batches spooled" : $"{spool.Count} batches spooled, {_memory.Count} in memory ({_memoryBytes / 1024} KB)";
    }

    /// <summary>Takes a new batch: into the spool, or memory, or discarded and counted. Never throws for want of room.</summary>
    public void Add(AgentHello hello, AgentBatch batch)
    {
        lock (_lock)
        {
            var stamped = batch with { BatchesDiscarded = _unreportedBatches, DropsDiscarded = _unreportedDrops, SpoolProblem = _problem };
            var bytes = new SpoolEntry(hello, stamped).ToBytes();
            MoveMemoryToSpool();
            if (_memory.Count > 0 || TryAppend(batch.Sequence, bytes) is null)
            {
                if (_memoryBytes + bytes.Length > backlogBytes)
                {
                    Discard(batch);
                    return;
                }
                _memory.Enqueue(new Held(batch.Sequence, bytes));
                _memoryBytes += bytes.Length;
            }
            _unreportedBatches = _unreportedDrops = 0;
        }
        _added.Release();
    }

    /// <summary>The oldest batch not acknowledged yet, or null when there is none.</summary>
    public Pending? Next()
    {
        lock (_lock)
        {
            var oldest = spool.Oldest();
            foreach (var problem in spool.TakeProblems()) say.WriteLine($"dropboard-agent: spool file {problem}");
            if (oldest is { } onDisk) return new Pending(onDisk.Entry, onDisk.File, null);
            return _memory.TryPeek(out var held) ? new Pending(SpoolEntry.FromBytes(held.Bytes), null, held) : null;
        }
    }

    /// <summary>Waits until a batch is added, or the time is up.</summary>
    public Task WaitAsync(TimeSpan timeout) => _added.WaitAsync(timeout);

    /// <summary>The server has it: forget it.</summary>
    public void Acknowledge(Pending pending)
    {
        lock (_lock)
        {
            if (FileOf(pending) is { } file) spool.Remove(file);
            else Forget(pending.InMemory!);
        }
    }

    /// <summary>The server will never take it: keep it aside for inspection, out of the send order. Returns where, or why it could not.</summary>
    public string KeepAside(Pending pending)
    {
        lock (_lock)
        {
            if (FileOf(pending) is { } file) return $"kept as {spool.KeepAside(file)}";
            Forget(pending.InMemory!);
            try
            {
                return $"kept as {spool.KeepAside(pending.Entry.Batch.Sequence, pending.InMemory!.Bytes)}";
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return $"could not be kept aside ({e.Message})";
            }
        }
    }

    /// <summary>At exit: batches still in memory go to the spool if it can take them now; the rest are lost, and counted.</summary>
    public void Close()
    {
        lock (_lock)
        {
            MoveMemoryToSpool();
            while (_memory.TryDequeue(out var lost))
            {
                Count(SpoolEntry.FromBytes(lost.Bytes).Batch);
                _memoryBytes -= lost.Bytes.Length;
            }
        }
    }

    /// <summary>What was discarded in all, for the agent's last words: batches, drops, and drops per reason.</summary>
    public string DiscardSummary()
    {
        lock (_lock) return $"{DiscardedBatches} batches holding {DiscardedDrops} drops ({ByReason(_discardedInAllByReason)})";
    }

    private string? FileOf(Pending pending) => pending.File ?? pending.InMemory?.File;

    private void Forget(Held held)
    {
        if (_memory.TryPeek(out var head) && ReferenceEquals(head, held))
        {
            _memory.Dequeue();
            _memoryBytes -= held.Bytes.Length;
            EndDiscarding();
        }
    }

    private void MoveMemoryToSpool()
    {
        while (_memory.TryPeek(out var held) && TryAppend(held.Sequence, held.Bytes) is var file && file is not null)
        {
            held.File = file;
            _memory.Dequeue();
            _memoryBytes -= held.Bytes.Length;
            EndDiscarding();
        }
    }

    /// <summary>Memory has room again: the run of discards is over, and said with what it cost.</summary>
    private void EndDiscarding()
    {
        if (_episodeBatches == 0) return;
        say.WriteLine($"dropboard-agent: {_episodeBatches} batches holding {_episodeDrops} drops discarded ({ByReason(_discardedByReason)}); "
                      + $"{DiscardedBatches} in all; the next batch tells the dashboard");
        _episodeBatches = _episodeDrops = 0;
        _discardedByReason.Clear();
    }

    /// <summary>The batch's file, or null when the spool cannot take it: the first refusal of a run is said at once.</summary>
    private string? TryAppend(long sequence, byte[] bytes)
    {
        try
        {
            var file = spool.Append(sequence, bytes);
            if (_problem is not null)
                say.WriteLine($"dropboard-agent: the spool {spool.Directory} takes batches again");
            _problem = null;
            return file;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            if (_problem is null)
                say.WriteLine($"dropboard-agent: cannot keep batches in the spool {spool.Directory}: {e.Message}; "
                              + $"keeping up to {backlogBytes / 1024} KB of them in memory until it can (--backlog-kb)");
            _problem = e.Message.Length <= MaxProblemLength ? e.Message : e.Message[..MaxProblemLength];
            return null;
        }
    }

    private void Discard(AgentBatch batch)
    {
        if (_episodeBatches == 0)
            say.WriteLine($"dropboard-agent: memory backlog full ({_memoryBytes / 1024} KB of batches, --backlog-kb {backlogBytes / 1024}) "
                          + "and the spool takes none: discarding new batches until the spool or the dashboard takes some; counted");
        _unreportedBatches++;
        _unreportedDrops += Drops(batch);
        _episodeBatches++;
        _episodeDrops += Drops(batch);
        Count(batch);
    }

    private void Count(AgentBatch discarded)
    {
        DiscardedBatches++;
        DiscardedDrops += Drops(discarded);
        foreach (var bucket in discarded.Drops)
        {
            var reason = bucket.Reason ?? "no reason";
            _discardedByReason[reason] = _discardedByReason.GetValueOrDefault(reason) + bucket.Count;
            _discardedInAllByReason[reason] = _discardedInAllByReason.GetValueOrDefault(reason) + bucket.Count;
        }
    }

    private static string ByReason(SortedDictionary<string, long> drops) =>
        drops.Count == 0 ? "no drops" : string.Join(", ", drops.Select(r => $"{r.Key} {r.Value}"));

    private static long Drops(AgentBatch batch) => batch.Drops.Sum(d => d.Count);
}
