using System.Diagnostics;
using DropBoard.Agent.Aggregation;

namespace DropBoard.Agent.Capture.Tracepoint;

/// <summary>
/// Drops from the skb:kfree_skb tracepoint: one perf event and ring per online CPU. A thread of its own copies the rings
/// out as they fill (<see cref="RingReader"/>); the thread that calls <see cref="Run"/> decodes and counts behind it.
/// Works on every kernel with tracepoints, with or without NET_DM.
/// </summary>
public sealed class TracepointSource : IDropSource, IFreeCounting
{
    private const int CLOCK_MONOTONIC = 1;

    /// <summary>
    /// Ring per CPU unless told otherwise: one CPU can drop ~1.3 M packets/s (a UDP flood into a full socket), ~72 bytes
    /// each, so 4 MiB holds ~58k drops, ~40 ms of such a burst on that CPU while the reader is kept off the CPU.
    /// </summary>
    public const int DefaultRingKb = 4096;

    private readonly PerfEvent[] _events;
    private readonly KfreeSkbLayout _layout;
    private readonly TracepointFormat _format;
    private readonly PerfEvent[] _consumeEvents;
    private readonly KfreeSkbLayout? _consumeLayout;
    private readonly int _maxWaitMs;
    private PerfRecordDecoder? _decoder;
    private PerfRecordDecoder? _freeDecoder;

    public string Name => "tracepoint";

    public long LostRecords => (_decoder?.LostRecords ?? 0) + (_freeDecoder?.LostRecords ?? 0);

    /// <summary>Each CPU's ring, in KiB: what was asked for, or less when the locked-memory limit allowed no more.</summary>
    public int RingKb { get; }

    /// <summary>What the start line says of the rings (their size, and the limit that cut them if one did).</summary>
    public string StartNote { get; }

    public string LostRecordsFix => $"raise --ring-kb (now {RingKb} KiB per CPU)";

    /// <summary>
    /// Where normal frees (skb:consume_skb) are counted, when the source was opened with them; set before
    /// <see cref="Run"/>. They tell a drop site from a place that frees packets it is done with.
    /// </summary>
    public DropAggregator? Frees { get; set; }

    public bool CapturesFrees => _consumeLayout is not null;

    /// <summary>Records that could not be decoded (each counted, with the last reason in <see cref="LastError"/>).</summary>
    public long CorruptRecords => _decoder?.CorruptRecords ?? 0;

    public string? LastError => _decoder?.LastError;

    private TracepointSource(PerfEvent[] events, TracepointFormat format, PerfEvent[] consumeEvents, TracepointFormat? consumeFormat, int maxWaitMs,
                             int ringKb, string startNote)
    {
        _maxWaitMs = maxWaitMs;
        _events = events;
        _format = format;
        _layout = KfreeSkbLayout.From(format);
        _consumeEvents = consumeEvents;
        _consumeLayout = consumeFormat is null ? null : KfreeSkbLayout.ForConsumeSkb(consumeFormat);
        RingKb = ringKb;
        StartNote = startNote;
    }

    /// <param name="ringKb">Each CPU's ring in KiB, a power of two of at least a page (<see cref="DefaultRingKb"/>).</param>
    /// <param name="consume">Also open skb:consume_skb (normal frees: far more frequent than drops, so off by default).</param>
    /// <param name="maxWaitMs">
    /// How long a drop may sit in a ring below its wakeup watermark before it is read (the batch interval): the only
    /// time the reader wakes without the kernel waking it.
    /// </param>
    public static TracepointSource Open(int ringKb = DefaultRingKb, bool consume = false, int maxWaitMs = 250)
    {
        var pageKb = Environment.SystemPageSize / 1024;
        if (ringKb < pageKb || (ringKb & (ringKb - 1)) != 0)
            throw new CaptureUnavailableException($"a perf ring of {ringKb} KiB is not a power of two of pages ({pageKb} KiB here)",
                                                  $"use --ring-kb {Math.Max(pageKb, DefaultRingKb)}, or another power of two of at least {pageKb}");
        var tracefs = Tracefs.Locate();
        var format = Tracefs.ReadFormat(tracefs, "skb", "kfree_skb");
        var consumeFormat = consume ? Tracefs.ReadFormat(tracefs, "skb", "consume_skb") : null;
        // Smaller rings rather than none: a host whose locked-memory limit is low still gets drops, and is told why fewer.
        for (var kb = ringKb; ; kb /= 2)
        {
            var events = new List<PerfEvent>();
            var consumeEvents = new List<PerfEvent>();
            try
            {
                foreach (var cpu in OnlineCpus())
                {
                    events.Add(PerfEvent.Open(format.Id, cpu, kb / pageKb, CLOCK_MONOTONIC));
                    if (consumeFormat is not null) consumeEvents.Add(PerfEvent.Open(consumeFormat.Id, cpu, kb / pageKb, CLOCK_MONOTONIC));
                }
            }
            catch (PerfEvent.LockedMemoryLimitException e)
            {
                foreach (var opened in events.Concat(consumeEvents)) opened.Dispose();
                if (kb / 2 >= Math.Min(ringKb, MinimumRingKb) && kb / 2 >= pageKb) continue;
                throw new CaptureUnavailableException(e.Message, LockedMemoryFix);
            }
            catch
            {
                foreach (var opened in events.Concat(consumeEvents)) opened.Dispose();
                throw;
            }
            // Enabled here, not in Run: once Open returns, every drop is in a ring, so "watching" is true when printed.
            foreach (var e in events.Concat(consumeEvents)) e.Enable();
            var note = kb == ringKb
                ? $"perf rings of {kb} KiB per CPU (--ring-kb)"
                : $"perf rings cut to {kb} KiB per CPU from the {ringKb} asked (--ring-kb) by the locked-memory limit; {LockedMemoryFix}";
            return new TracepointSource([.. events], format, [.. consumeEvents], consumeFormat, maxWaitMs, kb, note);
        }
    }

    private const int MinimumRingKb = 64;

    private const string LockedMemoryFix =
        "raise RLIMIT_MEMLOCK (LimitMEMLOCK=infinity in the systemd unit, ulimit -l unlimited) or kernel.perf_event_mlock_kb, or grant CAP_IPC_LOCK";

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

        using var reader = new RingReader(_events, _consumeEvents, _maxWaitMs);
        // Stopped and joined before the rings can be unmapped, also when decoding throws.
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var copyOut = new Thread(() => reader.Run(stop.Token)) { IsBackground = true, Name = "perf ring copy-out" };
        copyOut.Start();
        try
        {
            var chunks = reader.Chunks;
            // Blocks this thread between bursts; throws what stopped the copy-out thread, if anything did.
            while (chunks.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                // Published per chunk (one ring read), so that counts flow on even if reading outpaces decoding for a while.
                while (chunks.TryRead(out var chunk))
                {
                    (chunk.Frees ? freeDecoder! : decoder).DecodeAll(chunk.Records);
                    reader.Return(chunk);
                    (chunk.Frees ? frees! : aggregator).Commit();
                }
            }
        }
        finally
        {
            stop.Cancel();
            copyOut.Join();
        }
    }

    public void Dispose()
    {
        foreach (var e in _events.Concat(_consumeEvents)) e.Dispose();
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
