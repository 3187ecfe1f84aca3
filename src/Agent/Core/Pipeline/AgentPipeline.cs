using System.Reflection;
using System.Threading.Channels;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture;
using DropBoard.Agent.Counters;
using DropBoard.Agent.Namespaces;
using DropBoard.Agent.Privileges;
using DropBoard.Agent.Symbols;
using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Pipeline;

/// <summary>
/// Source, symbolizer, aggregator and counter sampler wired together: a capture thread feeds the
/// aggregator, a batching loop turns it into <see cref="AgentBatch"/>es, at most one per BatchInterval while drops
/// come and one per CounterInterval otherwise: on a quiet host it sleeps between counter samples. The watch
/// command, the uplink and the web app's embedded agent all read <see cref="Batches"/>.
/// </summary>
public sealed class AgentPipeline : IAsyncDisposable
{
    private readonly AgentOptions _options;
    private readonly IDropSource _source;
    private readonly DropAggregator _aggregator;
    private readonly DropAggregator? _frees;
    private readonly CounterSampler _counters;
    private readonly NamespaceCounters? _namespaces;
    private readonly SampleCap _samples;
    private readonly Channel<AgentBatch> _batches = Channel.CreateUnbounded<AgentBatch>(new() { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _committed = new(0);
    private int _commitSignalled;
    private readonly Thread _captureThread;
    private readonly Task _batchLoop;
    private Symbolizer _symbolizer;
    private Exception? _captureError;
    private long _sequence;
    private long _lostReported;

    public AgentHello Hello { get; }
    public string SourceNote { get; }
    public ChannelReader<AgentBatch> Batches => _batches.Reader;
    public IDropSource Source => _source;
    /// <summary>Counter files that could not be read or parsed, each once.</summary>
    public IReadOnlyList<string> CounterProblems => _namespaces?.Problems ?? _counters.Problems;

    private AgentPipeline(AgentOptions options, Symbolizer symbolizer, IDropSource source, string note, CounterSampler counters)
    {
        _options = options;
        _symbolizer = symbolizer;
        _source = source;
        _counters = counters;
        SourceNote = note;
        _aggregator = new DropAggregator(symbolizer, options.BucketMs) { Committed = OnCommitted };
        if (source.KnowsNamespaces)
        {
            _namespaces = new NamespaceCounters(counters, new NetNamespaceDirectory());
            _aggregator.NamespaceName = _namespaces.NameOf;
        }
        if (source is IFreeCounting { CapturesFrees: true } counting)
            counting.Frees = _frees = new DropAggregator(symbolizer, options.BucketMs) { Committed = OnCommitted };
        _samples = new SampleCap(options.MaxSamplesPerSecond);
        Hello = new AgentHello(HostId(), Environment.MachineName, KernelRelease(), source.Name, Version(), options.BucketMs, Guid.NewGuid().ToString("n"),
            source.LostRecordsFix);
        // The baseline, cut like every sample: drops the source counted before it are not the first span's.
        CommitCounters(DropAggregator.SampleMs(SampleCounters()));
        _captureThread = new Thread(Capture) { IsBackground = true, Name = $"capture ({source.Name})" };
        _captureThread.Start();
        _batchLoop = Task.Run(BatchLoop);
    }

    /// <exception cref="CaptureUnavailableException">The kernel offers no source this process may use.</exception>
    public static AgentPipeline Start(AgentOptions options)
    {
        var symbolizer = Symbolizer.LoadKallsyms();
        var counters = new CounterSampler(options.NetNamespace);
        IDropSource? source = null;
        try
        {
            source = DropSourceFactory.Create(options, out var note);
            return new AgentPipeline(options, symbolizer, source, note, counters);
        }
        catch
        {
            source?.Dispose();
            counters.Dispose();
            throw;
        }
    }

    private void Capture()
    {
        try
        {
            _source.Run(_aggregator, _samples, _stop.Token);
        }
        catch (Exception e)
        {
            // Surfaces to the reader of Batches when the batching loop ends; nothing captured so far is lost.
            _captureError = e;
            _stop.Cancel();
        }
    }

    private void OnCommitted()
    {
        if (Interlocked.Exchange(ref _commitSignalled, 1) == 0) _committed.Release();
    }

    private async Task BatchLoop()
    {
        var counterMs = (long)_options.CounterInterval.TotalMilliseconds;
        var batchMs = (long)_options.BatchInterval.TotalMilliseconds;
        var nextCounters = Environment.TickCount64 + counterMs;
        var nextSymbolRefresh = Environment.TickCount64 + 5000;
        var lastBatch = Environment.TickCount64;
        try
        {
            while (true)
            {
                // Asleep until drops were committed or the next counter sample is due: no timer runs on a quiet host.
                await _committed.WaitAsync(TimeSpan.FromMilliseconds(Math.Max(0, nextCounters - Environment.TickCount64)), _stop.Token);
                // One batch per BatchInterval at most: drops committed meanwhile join it.
                var sinceBatch = Environment.TickCount64 - lastBatch;
                if (sinceBatch < batchMs) await Task.Delay(TimeSpan.FromMilliseconds(batchMs - sinceBatch), _stop.Token);
                Volatile.Write(ref _commitSignalled, 0); // a commit from here on wakes the next round
                var now = Environment.TickCount64;
                var takeCounters = now >= nextCounters;
                if (takeCounters)
                {
                    nextCounters += counterMs;
                    if (nextCounters <= now) nextCounters = now + counterMs; // after a stall: no burst of samples to catch up
                }
                if (now >= nextSymbolRefresh)
                {
                    nextSymbolRefresh = now + 5000;
                    RefreshSymbols();
                }
                EmitBatch(takeCounters);
                lastBatch = now;
            }
        }
        catch (OperationCanceledException)
        {
        }
        _captureThread.Join();
        // The capture thread committed its last drops on the way out: send them and the last counter deltas.
        EmitBatch(takeCounters: true);
        _batches.Writer.TryComplete(_captureError);
    }

    private void RefreshSymbols()
    {
        // Real addresses need CAP_SYSLOG (kptr_restrict): after a privilege drop only one thread has it.
        var fresh = KeptPrivileges.Run(_symbolizer.RefreshIfModulesChanged);
        if (ReferenceEquals(fresh, _symbolizer)) return;
        _symbolizer = fresh;
        _aggregator.UseSymbolizer(fresh);
        _frees?.UseSymbolizer(fresh);
    }

    private void EmitBatch(bool takeCounters)
    {
        // Counter samples are stamped in the drops' clock and cut their bucket there (the source says where, see
        // IDropSource.SampleCounters), so that the drops before a sample and the counter rises up to it cover the same span.
        var nowNs = takeCounters ? SampleCounters() : _source.NowUnixNs();
        var now = DropAggregator.SampleMs(nowNs);
        var counters = takeCounters ? CommitCounters(now) : [];
        var texts = takeCounters ? _counters.TakeTextChanges() : null;
        var drops = _aggregator.Flush();
        _namespaces?.Watch(drops);
        var frees = _frees?.Flush();
        var flows = _source is Capture.Bpf.BpfSource { Flows: { } table } ? _aggregator.Flush(table) : null;
        var paths = _source is Capture.Bpf.BpfSource { Paths: { } pathTable } ? _aggregator.Flush(pathTable) : null;
        var (samples, suppressed) = _samples.Take();
        var lost = _source.LostRecords;
        var lostNow = lost - _lostReported;
        _lostReported = lost;
        if (drops.Count == 0 && counters.Count == 0 && samples.Count == 0 && lostNow == 0 && suppressed == 0 && !takeCounters && frees is not { Count: > 0 } && flows is not { Count: > 0 }
            && paths is not { Count: > 0 })
            return;
        _batches.Writer.TryWrite(new AgentBatch(Hello.HostId, ++_sequence, now, drops, counters, samples, lostNow, suppressed, frees, CounterTexts: texts, Flows: flows, Paths: paths));
    }

    private Task? _disposal;

    /// <summary>Stops capture and sends what was counted up to here. Safe to call more than once, from any thread.</summary>
    public ValueTask DisposeAsync()
    {
        var disposal = new Task<Task>(DisposeCore);
        if (Interlocked.CompareExchange(ref _disposal, disposal.Unwrap(), null) is { } running)
            return new ValueTask(running);
        disposal.Start();
        return new ValueTask(_disposal);
    }

    private async Task DisposeCore()
    {
        _stop.Cancel();
        await _batchLoop.ConfigureAwait(false);
        _source.Dispose();
        if (_namespaces is null) _counters.Dispose();
        else _namespaces.Dispose();
    }

    private long SampleCounters()
    {
        _namespaces?.ReadOthers();
        return _source.SampleCounters(_aggregator, _counters.Read, _counters.NamespaceInode);
    }

    private IReadOnlyList<CounterDelta> CommitCounters(long atMs) => _namespaces?.Commit(atMs) ?? _counters.Commit(atMs);

    private static string HostId()
    {
        try
        {
            var id = File.ReadAllText("/etc/machine-id").Trim();
            if (id.Length > 0) return id;
        }
        catch (IOException)
        {
        }
        return Environment.MachineName;
    }

    private static string KernelRelease()
    {
        try
        {
            return File.ReadAllText("/proc/sys/kernel/osrelease").Trim();
        }
        catch (IOException)
        {
            return Environment.OSVersion.VersionString;
        }
    }

    private static string Version() =>
        typeof(AgentPipeline).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0";
}
