using System.Reflection;
using System.Threading.Channels;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture;
using DropBoard.Agent.Counters;
using DropBoard.Agent.Symbols;
using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Pipeline;

/// <summary>
/// Source, symbolizer, aggregator and counter sampler wired together: a capture thread feeds the
/// aggregator, a batching loop turns it into <see cref="AgentBatch"/>es every BatchInterval. The watch
/// command, the uplink and the web app's embedded agent all read <see cref="Batches"/>.
/// </summary>
public sealed class AgentPipeline : IAsyncDisposable
{
    private readonly AgentOptions _options;
    private readonly IDropSource _source;
    private readonly DropAggregator _aggregator;
    private readonly DropAggregator? _frees;
    private readonly CounterSampler _counters;
    private readonly SampleCap _samples;
    private readonly Channel<AgentBatch> _batches = Channel.CreateUnbounded<AgentBatch>(new() { SingleReader = true, SingleWriter = true });
    private readonly CancellationTokenSource _stop = new();
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
    public IReadOnlyList<string> CounterProblems => _counters.Problems;

    private AgentPipeline(AgentOptions options, Symbolizer symbolizer, IDropSource source, string note, CounterSampler counters)
    {
        _options = options;
        _symbolizer = symbolizer;
        _source = source;
        _counters = counters;
        SourceNote = note;
        _aggregator = new DropAggregator(symbolizer, options.BucketMs);
        if (source is Capture.Tracepoint.TracepointSource { CapturesFrees: true } tracepoint)
            tracepoint.Frees = _frees = new DropAggregator(symbolizer, options.BucketMs);
        _samples = new SampleCap(options.MaxSamplesPerSecond);
        Hello = new AgentHello(HostId(), Environment.MachineName, KernelRelease(), source.Name, Version(), options.BucketMs, Guid.NewGuid().ToString("n"));
        _counters.Sample(NowMs());
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

    private async Task BatchLoop()
    {
        var nextCounters = Environment.TickCount64 + (long)_options.CounterInterval.TotalMilliseconds;
        var nextSymbolRefresh = Environment.TickCount64 + 5000;
        using var timer = new PeriodicTimer(_options.BatchInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var takeCounters = Environment.TickCount64 >= nextCounters;
                if (takeCounters) nextCounters += (long)_options.CounterInterval.TotalMilliseconds;
                if (Environment.TickCount64 >= nextSymbolRefresh)
                {
                    nextSymbolRefresh += 5000;
                    RefreshSymbols();
                }
                EmitBatch(takeCounters);
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
        var fresh = _symbolizer.RefreshIfModulesChanged();
        if (ReferenceEquals(fresh, _symbolizer)) return;
        _symbolizer = fresh;
        _aggregator.UseSymbolizer(fresh);
        _frees?.UseSymbolizer(fresh);
    }

    private void EmitBatch(bool takeCounters)
    {
        var now = NowMs();
        var drops = _aggregator.Flush();
        var frees = _frees?.Flush();
        var counters = takeCounters ? _counters.Sample(now) : [];
        var texts = takeCounters ? _counters.TakeTextChanges() : null;
        var (samples, suppressed) = _samples.Take();
        var lost = _source.LostRecords;
        var lostNow = lost - _lostReported;
        _lostReported = lost;
        if (drops.Count == 0 && counters.Count == 0 && samples.Count == 0 && lostNow == 0 && suppressed == 0 && !takeCounters && frees is not { Count: > 0 })
            return;
        _batches.Writer.TryWrite(new AgentBatch(Hello.HostId, ++_sequence, now, drops, counters, samples, lostNow, suppressed, frees, texts));
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
        _counters.Dispose();
    }

    private static long NowMs() => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

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
