using System.Diagnostics;
using DropBoard.Agent.Aggregation;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace DropBoard.Agent.Capture.Tracepoint;

/// <summary>
/// Drops from the skb:kfree_skb tracepoint: one perf event and ring per online CPU, one thread waiting
/// on all of them with epoll. Works on every kernel with tracepoints, with or without NET_DM.
/// </summary>
public sealed unsafe class TracepointSource : IDropSource
{
    private const int CLOCK_MONOTONIC = 1;

    private readonly PerfEvent[] _events;
    private readonly KfreeSkbLayout _layout;
    private readonly TracepointFormat _format;
    private readonly PerfEvent[] _consumeEvents;
    private readonly KfreeSkbLayout? _consumeLayout;
    private readonly int _maxWaitMs;
    private PerfRecordDecoder? _decoder;
    private PerfRecordDecoder? _freeDecoder;
    private int _epoll = -1;

    public string Name => "tracepoint";

    public long LostRecords => (_decoder?.LostRecords ?? 0) + (_freeDecoder?.LostRecords ?? 0);

    /// <summary>
    /// Where normal frees (skb:consume_skb) are counted, when the source was opened with them; set before
    /// <see cref="Run"/>. They tell a drop site from a place that frees packets it is done with.
    /// </summary>
    public DropAggregator? Frees { get; set; }

    public bool CapturesFrees => _consumeLayout is not null;

    /// <summary>Records that could not be decoded (each counted, with the last reason in <see cref="LastError"/>).</summary>
    public long CorruptRecords => _decoder?.CorruptRecords ?? 0;

    public string? LastError => _decoder?.LastError;

    private TracepointSource(PerfEvent[] events, TracepointFormat format, PerfEvent[] consumeEvents, TracepointFormat? consumeFormat, int maxWaitMs)
    {
        _maxWaitMs = maxWaitMs;
        _events = events;
        _format = format;
        _layout = KfreeSkbLayout.From(format);
        _consumeEvents = consumeEvents;
        _consumeLayout = consumeFormat is null ? null : KfreeSkbLayout.ForConsumeSkb(consumeFormat);
    }

    /// <param name="ringPages">Data pages per CPU ring, a power of two (256 pages = 1 MiB holds ~14k drops).</param>
    /// <param name="consume">Also open skb:consume_skb (normal frees: far more frequent than drops, so off by default).</param>
    /// <param name="maxWaitMs">
    /// How long a drop may sit in a ring below its wakeup watermark before it is read (the batch interval): the only
    /// time the reader wakes without the kernel waking it.
    /// </param>
    public static TracepointSource Open(int ringPages = 256, bool consume = false, int maxWaitMs = 250)
    {
        if (ringPages <= 0 || (ringPages & (ringPages - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(ringPages), "must be a power of two");
        var tracefs = Tracefs.Locate();
        var format = Tracefs.ReadFormat(tracefs, "skb", "kfree_skb");
        var consumeFormat = consume ? Tracefs.ReadFormat(tracefs, "skb", "consume_skb") : null;
        var events = new List<PerfEvent>();
        var consumeEvents = new List<PerfEvent>();
        try
        {
            foreach (var cpu in OnlineCpus())
            {
                events.Add(PerfEvent.Open(format.Id, cpu, ringPages, CLOCK_MONOTONIC));
                if (consumeFormat is not null) consumeEvents.Add(PerfEvent.Open(consumeFormat.Id, cpu, ringPages, CLOCK_MONOTONIC));
            }
        }
        catch
        {
            foreach (var e in events.Concat(consumeEvents)) e.Dispose();
            throw;
        }
        // Enabled here, not in Run: once Open returns, every drop is in a ring, so "watching" is true when printed.
        foreach (var e in events.Concat(consumeEvents)) e.Enable();
        return new TracepointSource([.. events], format, [.. consumeEvents], consumeFormat, maxWaitMs);
    }

    // perf stamps samples with CLOCK_MONOTONIC (what Stopwatch reads on Linux); shifted to Unix time by the offset
    // of the two clocks at the start, once, so that the wall clock stepping later cannot tear drops apart.
    private readonly long _clockOffsetNs = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100 - MonotonicNs();

    private static long MonotonicNs() => (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));

    public long NowUnixNs() => MonotonicNs() + _clockOffsetNs;

    public void Run(DropAggregator aggregator, IDropSampleSink samples, CancellationToken cancellationToken)
    {
        var decoder = _decoder = new PerfRecordDecoder(_layout, _format.ReasonNames, aggregator, _clockOffsetNs);
        var frees = _consumeLayout is null ? null : Frees ?? throw new InvalidOperationException("set Frees before Run when capturing consume_skb");
        var freeDecoder = _freeDecoder = frees is null ? null : new PerfRecordDecoder(_consumeLayout!, new Dictionary<int, string>(), frees, _clockOffsetNs);
        var all = _events.Concat(_consumeEvents).ToArray();

        _epoll = epoll_create1(EPOLL_CLOEXEC);
        if (_epoll < 0) throw new CaptureUnavailableException($"epoll_create1 failed (errno {errno})", "check the process's file descriptor limit");
        for (var i = 0; i < all.Length; i++)
        {
            var ev = new epoll_event { events = EPOLLIN };
            ev.data.fd = i;
            epoll_ctl(_epoll, EPOLL_CTL_ADD, all[i].Fd, &ev);
        }

        // The stop wakes the reader at once through an eventfd in the same epoll set, so the wait need not be short.
        var wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (wake < 0) throw new CaptureUnavailableException($"eventfd failed (errno {errno})", "check the process's file descriptor limit");
        try
        {
            var stopEvent = new epoll_event { events = EPOLLIN };
            stopEvent.data.fd = -1;
            epoll_ctl(_epoll, EPOLL_CTL_ADD, wake, &stopEvent);
            using var stop = cancellationToken.Register(() =>
            {
                ulong one = 1;
                write(wake, &one, sizeof(ulong));
            });

            var ready = stackalloc epoll_event[all.Length + 1];
            while (!cancellationToken.IsCancellationRequested)
            {
                // Asleep until a ring reaches its watermark, the stop, or maxWaitMs for drops below the watermark.
                epoll_wait(_epoll, ready, all.Length + 1, _maxWaitMs);
                Drain(aggregator, decoder, frees, freeDecoder);
            }
        }
        finally
        {
            close(wake);
        }
        foreach (var e in all) e.Disable();
        Drain(aggregator, decoder, frees, freeDecoder);
    }

    private void Drain(DropAggregator aggregator, PerfRecordDecoder decoder, DropAggregator? frees, PerfRecordDecoder? freeDecoder)
    {
        foreach (var e in _events) e.Ring.Drain(decoder);
        aggregator.Commit();
        if (frees is null) return;
        foreach (var e in _consumeEvents) e.Ring.Drain(freeDecoder!);
        frees.Commit();
    }

    public void Dispose()
    {
        foreach (var e in _events.Concat(_consumeEvents)) e.Dispose();
        if (_epoll >= 0) close(_epoll);
        _epoll = -1;
    }

    /// <summary>CPU numbers from /sys/devices/system/cpu/online ("0-3,6").</summary>
    internal static IEnumerable<int> OnlineCpus(string path = "/sys/devices/system/cpu/online")
    {
        var text = File.Exists(path) ? File.ReadAllText(path).Trim() : $"0-{Environment.ProcessorCount - 1}";
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var dash = part.IndexOf('-');
            if (dash < 0)
            {
                yield return int.Parse(part);
                continue;
            }
            for (int cpu = int.Parse(part[..dash]), last = int.Parse(part[(dash + 1)..]); cpu <= last; cpu++)
                yield return cpu;
        }
    }
}
