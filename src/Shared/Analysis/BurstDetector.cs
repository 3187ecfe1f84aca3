namespace DropBoard.Shared.Analysis;

/// <summary>A run of buckets well above a site's own baseline.</summary>
public sealed record Burst(string Function, long StartMs, long EndMs, long PeakMs, long PeakCount, long Total);

/// <summary>
/// Finds bursts per site against that site's own baseline, robust to a steady trickle: a bucket is in a
/// burst when it reaches max(median + 1, 2 × median, median + 3σ) where σ = 1.4826 × MAD, computed over
/// every bucket of the window, empty ones included. Burst buckets closer than <c>mergeGapBuckets</c>
/// empty buckets form one burst.
/// </summary>
public static class BurstDetector
{
    /// <param name="buckets">(bucket start, count) of the non-empty buckets, any order, a start possibly more than once.</param>
    public static List<Burst> Detect(string function, IEnumerable<(long StartMs, long Count)> buckets, long windowStartMs, long windowEndMs, int bucketMs, int mergeGapBuckets = 1)
    {
        var bursts = new List<Burst>();
        var series = Merge(buckets);
        if (series.Length == 0) return bursts;
        var slots = Math.Max(series.Length, (windowEndMs - windowStartMs + bucketMs - 1) / bucketMs);
        var counts = new long[series.Length];
        for (var i = 0; i < series.Length; i++) counts[i] = series[i].Count;
        Array.Sort(counts);
        var zeros = slots - counts.Length;
        var median = MedianWithZeros(counts, zeros);
        var deviations = new double[counts.Length];
        for (var i = 0; i < counts.Length; i++) deviations[i] = Math.Abs(counts[i] - median);
        Array.Sort(deviations);
        var mad = MedianOfMerged(deviations, zeros, median);
        var threshold = Math.Max(Math.Max(median + 1, 2 * median), median + 3 * 1.4826 * mad);

        Burst? open = null;
        foreach (var (start, count) in series)
        {
            if (count < threshold) continue;
            if (open is not null && start - open.EndMs <= (long)mergeGapBuckets * bucketMs)
            {
                open = open with
                {
                    EndMs = start + bucketMs,
                    Total = open.Total + count,
                    PeakMs = count > open.PeakCount ? start : open.PeakMs,
                    PeakCount = Math.Max(open.PeakCount, count),
                };
                continue;
            }
            if (open is not null) bursts.Add(open);
            open = new Burst(function, start, start + bucketMs, start, count, count);
        }
        if (open is not null) bursts.Add(open);
        return bursts;
    }

    // Sorted by start, counts of equal starts added up.
    private static (long StartMs, long Count)[] Merge(IEnumerable<(long StartMs, long Count)> buckets)
    {
        var sorted = buckets.ToArray();
        Array.Sort(sorted, static (a, b) => a.StartMs.CompareTo(b.StartMs));
        var n = 0;
        for (var i = 0; i < sorted.Length; i++)
        {
            if (n > 0 && sorted[n - 1].StartMs == sorted[i].StartMs)
                sorted[n - 1].Count += sorted[i].Count;
            else
                sorted[n++] = sorted[i];
        }
        return sorted[..n];
    }

    // Median of `zeros` zeros followed by the sorted values.
    private static double MedianWithZeros(long[] sorted, long zeros)
    {
        var n = zeros + sorted.Length;
        return (At(sorted, zeros, (n - 1) / 2) + At(sorted, zeros, n / 2)) / 2.0;

        static double At(long[] sorted, long zeros, long i) => i < zeros ? 0 : sorted[i - zeros];
    }

    // Median of the sorted deviations merged with `zeros` copies of `zeroDeviation` (an empty bucket's distance to the median).
    private static double MedianOfMerged(double[] sorted, long zeros, double zeroDeviation)
    {
        var n = zeros + sorted.Length;
        return (Kth((n - 1) / 2) + Kth(n / 2)) / 2.0;

        double Kth(long k)
        {
            // Values below zeroDeviation come first, then the zeros' copies, then the rest.
            var below = Array.BinarySearch(sorted, zeroDeviation);
            if (below < 0) below = ~below;
            else while (below > 0 && sorted[below - 1] == zeroDeviation) below--;
            if (k < below) return sorted[k];
            if (k < below + zeros) return zeroDeviation;
            return sorted[k - zeros];
        }
    }
}
