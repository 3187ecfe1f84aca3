using System.Runtime.InteropServices;

namespace DropBoard.Web.Live;

/// <summary>
/// Sums per key per second over the last <c>seconds</c> seconds, in a fixed ring: memory is bounded by the
/// keys active in each second, whatever the traffic. Data older than the ring is ignored: the live view has moved past it.
/// Not thread-safe: the owning host state locks around it.
/// </summary>
internal sealed class SecondRing(int seconds)
{
    private readonly long[] _second = Enumerable.Repeat(long.MinValue, seconds).ToArray();
    private readonly Dictionary<int, long>?[] _sums = new Dictionary<int, long>?[seconds];

    public void Add(long second, int key, long value)
    {
        var slot = (int)(second % seconds);
        if (_second[slot] != second)
        {
            if (_second[slot] > second) return;
            _second[slot] = second;
            _sums[slot]?.Clear();
        }
        CollectionsMarshal.GetValueRefOrAddDefault(_sums[slot] ??= [], key, out _) += value;
    }

    /// <summary>The seconds in [from, to] that hold data, with their sums (not to be kept: slots are reused).</summary>
    public IEnumerable<(long Second, Dictionary<int, long> Sums)> Range(long from, long to)
    {
        for (var second = Math.Max(from, to - seconds + 1); second <= to; second++)
        {
            var slot = (int)(second % seconds);
            if (_second[slot] == second && _sums[slot] is { Count: > 0 } sums) yield return (second, sums);
        }
    }
}
