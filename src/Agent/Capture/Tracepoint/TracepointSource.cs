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
    // Bounds how long a lone drop waits in a ring that is not yet at its wakeup watermark.
    private const int PollMs = 50;

    private readonly PerfEvent[] _events;
    private readonly KfreeSkbLayout _layout;
    private readonly TracepointFormat _format;
    private PerfRecordDecoder? _decoder;
    private int _epoll = -1;

    public string Name => "tracepoint";

    public long LostRecords => _decoder?.LostRecords ?? 0;

    /// <summary>Records that could not be decoded (each counted, with the last reason in <see cref="LastError"/>).</summary>
    public long CorruptRecords => _decoder?.CorruptRecords ?? 0;

    public string? LastError => _decoder?.LastError;

    private TracepointSource(PerfEvent[] events, TracepointFormat format)
    {
        _events = events;
        _format = format;
        _layout = KfreeSkbLayout.From(format);
    }

    /// <param name="ringPages">Data pages per CPU ring, a power of two (256 pages = 1 MiB holds ~14k drops).</param>
    public static TracepointSource Open(int ringPages = 256)
    {
        if (ringPages <= 0 || (ringPages & (ringPages - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(ringPages), "must be a power of two");
        var tracefs = Tracefs.Locate();
        var format = Tracefs.ReadFormat(tracefs, "skb", "kfree_skb");
        var events = new List<PerfEvent>();
        try
        {
            foreach (var cpu in OnlineCpus())
                events.Add(PerfEvent.Open(format.Id, cpu, ringPages, CLOCK_MONOTONIC));
        }
        catch
        {
            foreach (var e in events) e.Dispose();
            throw;
        }
        return new TracepointSource([.. events], format);
    }

    public void Run(DropAggregator aggregator, IDropSampleSink samples, CancellationToken cancellationToken)
    {
        // perf stamps samples with CLOCK_MONOTONIC (what Stopwatch reads on Linux); shift them to Unix time.
        var monotonicNs = (long)(Stopwatch.GetTimestamp() * (1e9 / Stopwatch.Frequency));
        var unixNs = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
        var decoder = _decoder = new PerfRecordDecoder(_layout, _format.ReasonNames, aggregator, unixNs - monotonicNs);

        _epoll = epoll_create1(EPOLL_CLOEXEC);
        if (_epoll < 0) throw new CaptureUnavailableException($"epoll_create1 failed (errno {errno})", "check the process's file descriptor limit");
        for (var i = 0; i < _events.Length; i++)
        {
            var ev = new epoll_event { events = EPOLLIN };
            ev.data.fd = i;
            epoll_ctl(_epoll, EPOLL_CTL_ADD, _events[i].Fd, &ev);
        }
        foreach (var e in _events) e.Enable();

        var ready = stackalloc epoll_event[_events.Length];
        while (!cancellationToken.IsCancellationRequested)
        {
            epoll_wait(_epoll, ready, _events.Length, PollMs);
            // Drain every ring each round: a ring below its watermark still holds drops we want within PollMs.
            foreach (var e in _events) e.Ring.Drain(decoder);
            aggregator.Commit();
        }
        foreach (var e in _events) e.Disable();
        foreach (var e in _events) e.Ring.Drain(decoder);
        aggregator.Commit();
    }

    public void Dispose()
    {
        foreach (var e in _events) e.Dispose();
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
