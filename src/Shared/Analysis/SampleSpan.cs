using DropBoard.Shared.Contracts;

namespace DropBoard.Shared.Analysis;

/// <summary>
/// The span between two counter samples, (StartMs, EndMs]: the one span over which drops and counter rises
/// can be compared. A delta stamped AtMs covers the interval since the previous sample, so the rises stamped in
/// (StartMs, EndMs] and the drops of the buckets that start in [StartMs, EndMs) are the same span; drops after
/// EndMs wait for the next sample.
/// </summary>
public sealed record SampleSpan(long StartMs, long EndMs)
{
    public bool Holds(CounterDelta counter) => counter.AtMs > StartMs && counter.AtMs <= EndMs;

    public bool Holds(DropBucket drop) => drop.StartMs >= StartMs && drop.StartMs < EndMs;

    /// <summary>
    /// The span between sample times within [<paramref name="fromMs"/>, <paramref name="toMs"/>]: it ends at the
    /// last of them and starts at the one nearest to <paramref name="lengthMs"/> before that end (at the first one
    /// when no length is asked). Null with fewer than two samples: no span to compare over.
    /// </summary>
    public static SampleSpan? Between(IEnumerable<long> sampleTimesMs, long fromMs, long toMs, long? lengthMs = null)
    {
        var times = sampleTimesMs.Where(t => t >= fromMs && t <= toMs).Distinct().Order().ToList();
        if (times.Count < 2) return null;
        var end = times[^1];
        var start = lengthMs is { } length
            ? times.Take(times.Count - 1).MinBy(t => (Math.Abs(end - length - t), -t))
            : times[0];
        return new SampleSpan(start, end);
    }
}
