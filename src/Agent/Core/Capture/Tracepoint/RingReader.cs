using System.Buffers;
using System.Threading.Channels;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace DropBoard.Agent.Capture.Tracepoint;

/// <summary>
/// Whole records copied out of one ring: <see cref="Buffer"/> is pooled and goes back once decoded. Or, with
/// <see cref="Drained"/>, no records but a mark that everything copied out before it is decoded once it is reached.
/// </summary>
internal readonly record struct RingChunk(byte[] Buffer, int Length, bool Frees, ManualResetEventSlim? Drained = null)
{
    public ReadOnlySpan<byte> Records => Buffer.AsSpan(0, Length);
}

/// <summary>
/// The copy-out side of the tracepoint source, on a thread of its own: asleep on the rings' watermarks (epoll), it
/// copies whatever the rings hold into pooled buffers and gives the space back to the kernel at once, so that a burst
/// finds the rings empty however long decoding and counting take behind it. One buffer per ring read, none per record.
/// </summary>
internal sealed unsafe class RingReader : IDisposable
{
    private readonly PerfEvent[] _drops;
    private readonly PerfEvent[] _frees;
    private readonly int _maxWaitMs;
    private readonly ArrayPool<byte> _pool;
    private readonly Channel<RingChunk> _chunks = Channel.CreateUnbounded<RingChunk>(new() { SingleReader = true, SingleWriter = true });
    // Copied out and not yet decoded; past the bound, records wait in the rings (and are lost there if those fill too).
    private readonly long _maxBacklog;
    private long _backlog;
    private readonly int _epoll;
    private readonly int _wake;
    // A drain asked for and not yet taken up by the copy-out thread.
    private ManualResetEventSlim? _drain;
    private readonly Lock _wakeGate = new();
    private bool _closed;

    /// <param name="maxWaitMs">How long a record may sit in a ring below its watermark before it is read.</param>
    public RingReader(PerfEvent[] drops, PerfEvent[] frees, int maxWaitMs)
    {
        _drops = drops;
        _frees = frees;
        _maxWaitMs = maxWaitMs;
        var ringBytes = drops.Concat(frees).Max(e => e.Ring.Size);
        _pool = ArrayPool<byte>.Create(ringBytes, maxArraysPerBucket: 4);
        _maxBacklog = drops.Concat(frees).Sum(e => (long)e.Ring.Size);

        _epoll = epoll_create1(EPOLL_CLOEXEC);
        if (_epoll < 0) throw new CaptureUnavailableException($"epoll_create1 failed (errno {errno})", "check the process's file descriptor limit");
        // The stop wakes the reader at once through an eventfd in the same epoll set, so the wait need not be short.
        _wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (_wake < 0)
        {
            close(_epoll);
            throw new CaptureUnavailableException($"eventfd failed (errno {errno})", "check the process's file descriptor limit");
        }
        foreach (var fd in drops.Concat(frees).Select(e => e.Fd).Append(_wake))
        {
            var ev = new epoll_event { events = EPOLLIN };
            ev.data.fd = fd;
            epoll_ctl(_epoll, EPOLL_CTL_ADD, fd, &ev);
        }
    }

    /// <summary>What was copied out, in ring order per ring; complete (with the reader's error, if any) once it stopped.</summary>
    public ChannelReader<RingChunk> Chunks => _chunks.Reader;

    /// <summary>
    /// Has the copy-out thread copy out everything the rings hold now, past the backlog bound, and returns once the
    /// decoding thread has passed it (it sets <see cref="RingChunk.Drained"/>), or false after
    /// <paramref name="timeout"/> (the reader stopped meanwhile). One caller at a time.
    /// </summary>
    public bool Drain(TimeSpan timeout)
    {
        // Not disposed: the decoding thread may still set it after a timeout.
        var drained = new ManualResetEventSlim();
        Volatile.Write(ref _drain, drained);
        Wake();
        var done = drained.Wait(timeout);
        Interlocked.CompareExchange(ref _drain, null, drained); // not taken up: the reader stopped
        return done;
    }

    private void Wake()
    {
        ulong one = 1;
        // A drain may come as the source stops: never write to a closed (maybe reused) descriptor.
        lock (_wakeGate)
            if (!_closed) write(_wake, &one, sizeof(ulong));
    }

    /// <summary>Hands a decoded chunk's buffer back.</summary>
    public void Return(RingChunk chunk)
    {
        _pool.Return(chunk.Buffer);
        Interlocked.Add(ref _backlog, -chunk.Length);
    }

    /// <summary>Copies out until cancelled, then stops the events and copies out what they wrote last.</summary>
    public void Run(CancellationToken cancellationToken)
    {
        try
        {
            using var stop = cancellationToken.Register(Wake);
            var count = _drops.Length + _frees.Length + 1;
            var ready = stackalloc epoll_event[count];
            while (!cancellationToken.IsCancellationRequested)
            {
                // Asleep until a ring reaches its watermark, the stop, or maxWaitMs for records below the watermark.
                epoll_wait(_epoll, ready, count, _maxWaitMs);
                ulong wakes;
                read(_wake, &wakes, sizeof(ulong)); // reset: a drain's wake must not keep epoll returning
                CopyOutAll(last: false);
            }
            foreach (var e in _drops.Concat(_frees)) e.Disable();
            CopyOutAll(last: true);
            _chunks.Writer.TryComplete();
        }
        catch (Exception e)
        {
            _chunks.Writer.TryComplete(e);
        }
    }

    /// <summary>
    /// One pass over the rings, bounded by the backlog unless a drain is asked for or this is the <paramref name="last"/>
    /// (nothing may stay behind in a ring about to be unmapped); a drain's mark follows what it copied out.
    /// </summary>
    private void CopyOutAll(bool last)
    {
        var drain = Interlocked.Exchange(ref _drain, null);
        var bounded = drain is null && !last;
        foreach (var e in _drops) CopyOut(e.Ring, frees: false, bounded);
        foreach (var e in _frees) CopyOut(e.Ring, frees: true, bounded);
        if (drain is not null) _chunks.Writer.TryWrite(new RingChunk(Array.Empty<byte>(), 0, false, drain));
    }

    private void CopyOut(PerfRing ring, bool frees, bool bounded)
    {
        var unread = ring.Unread;
        if (unread == 0 || (bounded && Volatile.Read(ref _backlog) + unread > _maxBacklog)) return;
        var buffer = _pool.Rent(unread);
        ring.CopyOut(buffer.AsSpan(0, unread));
        Interlocked.Add(ref _backlog, unread);
        _chunks.Writer.TryWrite(new RingChunk(buffer, unread, frees));
    }

    public void Dispose()
    {
        lock (_wakeGate)
        {
            _closed = true;
            close(_wake);
        }
        close(_epoll);
    }
}
