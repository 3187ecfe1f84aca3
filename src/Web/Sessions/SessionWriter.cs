using System.Data.Common;
using System.Threading.Channels;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Metrics;

namespace DropBoard.Web.Sessions;

/// <summary>Since when, and why, the dashboard cannot store batches; how many it has answered "retry" since.</summary>
public sealed record StoreTrouble(DateTimeOffset Since, string Why, long Retried);

/// <summary>
/// The one writer of recorded batches: the hub queues a batch here and waits, at most <see cref="AckWait"/>, for
/// the transaction holding it to commit; only then is the batch acknowledged. A slow or locked database costs the
/// hub that wait, never a thread: the queue is bounded and the writer has a thread of its own. What is queued while
/// a transaction runs goes into the next one, so a busy dashboard writes many batches per commit.
/// </summary>
/// <remarks>
/// A batch that could not be stored is answered <see cref="BatchRejection.Retry"/>: the agent keeps it and sends it
/// again. One that is not sent again within <see cref="GiveUpAfter"/> (its agent died with its spool, or is too old
/// to know "retry") is lost to the sessions it was for; each such session gets a gap naming the batches and why,
/// and <c>dropboard_batches_not_stored_total</c> counts them.
/// </remarks>
public sealed class SessionWriter(SessionStore store, PrometheusMetrics metrics, TimeProvider clock, ILogger<SessionWriter> logger) : BackgroundService
{
    /// <summary>Batches waiting for the writer; past it a batch is answered "retry" at once.</summary>
    public const int Capacity = 4096;

    /// <summary>
    /// Batches per transaction at most: a commit is not held back by a long queue. Large, as a writer that fell behind
    /// catches up faster when each host's several batches are summed into one per-second and per-minute row: a fleet of
    /// 200 hosts x 200 sites is written 1.3x faster at 512 than at 200, 1.5x at 1024 (<c>sessions fleet</c>).
    /// </summary>
    private const int MaxPerTransaction = 1024;

    /// <summary>How long the hub waits for its batch to be committed before answering "retry".</summary>
    public static readonly TimeSpan AckWait = TimeSpan.FromSeconds(5);

    /// <summary>A batch answered "retry" and not sent again for this long is taken for lost.</summary>
    public static readonly TimeSpan GiveUpAfter = TimeSpan.FromMinutes(10);

    private readonly Channel<Write> _queue = Channel.CreateBounded<Write>(new BoundedChannelOptions(Capacity) { SingleReader = true });
    private readonly Dictionary<(string HostId, string InstanceId, long Sequence), Refusal> _refused = [];
    private volatile StoreTrouble? _trouble;

    /// <summary>Set while writes fail, for the pages to say; null when the last transaction committed.</summary>
    public StoreTrouble? Trouble => _trouble;

    /// <summary>After <see cref="Trouble"/> began, grew or ended (on the writer's thread: subscribers must not block).</summary>
    public event Action? TroubleChanged;

    /// <summary>Stores the batch into the sessions; null once it is committed, else why not (the agent is to retry).</summary>
    public async Task<string?> StoreAsync(SessionWrite batch, CancellationToken cancellationToken)
    {
        var write = new Write(batch);
        var why = !_queue.Writer.TryWrite(write)
            ? $"the dashboard's store is behind ({Capacity} batches waiting)"
            : await write.WaitAsync(AckWait, cancellationToken);
        Settle(batch, why);
        return why;
    }

    /// <summary>Another replica stored a batch this one refused (its agent failed over): it is not lost.</summary>
    public void StoredElsewhere(AgentHello hello, long sequence)
    {
        lock (_refused) _refused.Remove((hello.HostId, hello.InstanceId, sequence));
    }

    /// <summary>Remembers a refusal until the same batch is stored; forgets it once stored.</summary>
    private void Settle(SessionWrite batch, string? why)
    {
        var key = (batch.Hello.HostId, batch.Hello.InstanceId, batch.Batch.Sequence);
        lock (_refused)
        {
            if (why is null) _refused.Remove(key);
            else _refused[key] = new Refusal(batch, why, clock.GetUtcNow());
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.Factory.StartNew(() => Run(stoppingToken), stoppingToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private void Run(CancellationToken stoppingToken)
    {
        var batch = new List<Write>(MaxPerTransaction);
        var nextSweep = clock.GetUtcNow() + TimeSpan.FromMinutes(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            using (var wake = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken))
            {
                wake.CancelAfter(TimeSpan.FromSeconds(30));
                try
                {
                    _queue.Reader.WaitToReadAsync(wake.Token).AsTask().GetAwaiter().GetResult();
                }
                catch (OperationCanceledException)
                {
                }
            }
            while (batch.Count < MaxPerTransaction && _queue.Reader.TryRead(out var write))
                if (write.Start()) batch.Add(write);
            if (batch.Count > 0) Commit(batch);
            batch.Clear();
            if (clock.GetUtcNow() >= nextSweep)
            {
                nextSweep = clock.GetUtcNow() + TimeSpan.FromMinutes(1);
                MarkLost();
            }
        }
        // Stopping: what is still queued is answered "retry"; the agents send it to the next dashboard.
        while (_queue.Reader.TryRead(out var write))
            if (write.Start()) write.Done("the dashboard is stopping");
    }

    private void Commit(List<Write> batch)
    {
        string? why = null;
        try
        {
            store.AppendAll(batch.Select(w => w.Batch).ToList());
        }
        catch (DbException e)
        {
            why = store.Database.Engine.DescribeWriteFailure(e);
        }
        catch (Exception e) when (e is IOException or InvalidOperationException)
        {
            why = $"{store.Database.Path} could not be written ({e.Message})";
        }
        foreach (var write in batch) write.Done(why);

        var trouble = _trouble;
        if (why is not null)
        {
            if (trouble is null)
                logger.LogError("Cannot store batches in {Path}: {Why}. Agents are answered 'retry' and keep them until it can again", store.Database.Path, why);
            _trouble = new StoreTrouble(trouble?.Since ?? clock.GetUtcNow(), why, (trouble?.Retried ?? 0) + batch.Count);
            TroubleChanged?.Invoke();
        }
        else if (trouble is not null)
        {
            logger.LogWarning("Storing batches in {Path} again after {Seconds:0} s ({Why}); {Retried} batches were answered 'retry' meanwhile",
                store.Database.Path, (clock.GetUtcNow() - trouble.Since).TotalSeconds, trouble.Why, trouble.Retried);
            _trouble = null;
            TroubleChanged?.Invoke();
        }
    }

    /// <summary>
    /// Batches refused and not sent again within <see cref="GiveUpAfter"/>: a gap in each session they were for,
    /// naming how many from which host and why. A gap that cannot be written yet (the disk still full) is tried again.
    /// </summary>
    private void MarkLost()
    {
        List<Refusal> lost;
        var before = clock.GetUtcNow() - GiveUpAfter;
        lock (_refused)
            lost = _refused.Values.Where(r => r.At < before).ToList();
        var failed = new HashSet<Refusal>();
        foreach (var group in lost.SelectMany(r => r.Batch.Sessions.Select(s => (Session: s, Refusal: r)))
                     .GroupBy(x => (x.Session, x.Refusal.Batch.Hello.HostName, x.Refusal.Why)))
        {
            var batches = group.Select(x => x.Refusal.Batch.Batch).ToList();
            var why = $"{batches.Count} batches from {group.Key.HostName} could not be stored ({group.Key.Why}) and were not sent again";
            try
            {
                store.MarkGap(group.Key.Session, batches.Min(Earliest), batches.Max(b => b.SentAtMs), why);
                logger.LogError("Session {Session}: {Why}", group.Key.Session, why);
            }
            catch (DbException e)
            {
                logger.LogError("Could not mark in session {Session} that {Why}: {Error}; trying again in a minute", group.Key.Session, why, e.Message);
                failed.UnionWith(group.Select(x => x.Refusal));
            }
        }
        lock (_refused)
            foreach (var refusal in lost.Except(failed))
            {
                var b = refusal.Batch;
                if (_refused.Remove((b.Hello.HostId, b.Hello.InstanceId, b.Batch.Sequence))) metrics.NotStored(b.Hello.HostName);
            }
    }

    private static long Earliest(AgentBatch batch) =>
        batch.Drops.Select(d => d.StartMs).Concat(batch.Counters.Select(c => c.AtMs)).DefaultIfEmpty(batch.SentAtMs).Min();

    private sealed record Refusal(SessionWrite Batch, string Why, DateTimeOffset At);

    /// <summary>A queued batch: the writer starts it unless the hub gave up on it first, and tells the hub how it went.</summary>
    private sealed class Write(SessionWrite batch)
    {
        private const int Queued = 0, Started = 1, Abandoned = 2;
        private int _state;
        private readonly TaskCompletionSource<string?> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public SessionWrite Batch => batch;

        public bool Start() => Interlocked.CompareExchange(ref _state, Started, Queued) == Queued;

        public void Done(string? why) => _done.TrySetResult(why);

        public async Task<string?> WaitAsync(TimeSpan wait, CancellationToken cancellationToken)
        {
            try
            {
                return await _done.Task.WaitAsync(wait, cancellationToken);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                // Not started yet: it never will be. Started: it may still commit; the resend then finds it stored.
                Interlocked.CompareExchange(ref _state, Abandoned, Queued);
                return _done.Task.IsCompletedSuccessfully && _done.Task.Result is null
                    ? null
                    : $"not stored within {wait.TotalSeconds:0} s: the database is slow or locked";
            }
        }
    }
}
