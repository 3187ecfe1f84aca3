using System.Collections.Concurrent;
using DropBoard.Agent.Capture;
using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Pipeline;

/// <summary>Keeps at most N raw samples per second for the uplink and counts the ones it turned away.</summary>
internal sealed class SampleCap(int perSecond) : IDropSampleSink
{
    private readonly ConcurrentQueue<DropSample> _queue = new();
    private long _second;
    private int _inSecond;
    private long _suppressed;

    public bool Admit()
    {
        var second = Environment.TickCount64 / 1000;
        if (second != _second)
        {
            _second = second;
            _inSecond = 0;
        }
        if (_inSecond >= perSecond)
        {
            Interlocked.Increment(ref _suppressed);
            return false;
        }
        _inSecond++;
        return true;
    }

    public void OnSample(DropSample sample) => _queue.Enqueue(sample);

    public (List<DropSample> Samples, long Suppressed) Take()
    {
        var taken = new List<DropSample>();
        while (_queue.TryDequeue(out var s)) taken.Add(s);
        return (taken, Interlocked.Exchange(ref _suppressed, 0));
    }
}
