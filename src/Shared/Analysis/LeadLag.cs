namespace DropBoard.Shared.Analysis;

public enum LeadLagKind
{
    /// <summary>No relation stronger than chance.</summary>
    None,
    /// <summary>Bursts of the leader are followed by bursts of the follower, later, more often than chance.</summary>
    Leads,
    /// <summary>Both burst in the same bucket: one cause, or one drop seen at two sites.</summary>
    Coincident,
}

/// <summary>How bursts at one site relate in time to bursts at another.</summary>
/// <param name="Bursts">Bursts of the leader in the window.</param>
/// <param name="Followed">Of those, how many had a follower burst start later, within the horizon.</param>
/// <param name="Coincident">Of those, how many had a follower burst start in the same bucket.</param>
/// <param name="Score">0 = as often as chance, 1 = every time; negative = less than chance.</param>
/// <param name="PValue">Chance of at least <paramref name="Followed"/> follows if the two were independent.</param>
public sealed record LeadLagRelation(
    string Leader, string Follower, int Bursts, int Followed, int Coincident, double? MedianLagMs, double Score, double PValue, LeadLagKind Kind);

/// <summary>
/// For every ordered pair of sites with bursts: how often a burst of A is followed by a burst of B within the
/// horizon, the median lag, and how that compares with chance. Chance is what B's own burst rate predicts if
/// the two were independent: a follower burst lands in a window of length h with probability
/// p = 1 − exp(−rate × h), and the number of follows is then Binomial(bursts, p).
/// </summary>
public static class LeadLag
{
    public const double Significance = 0.01;

    /// <summary>Every ordered pair of sites with bursts, or only the pairs with a site of <paramref name="involving"/> in them.</summary>
    /// <returns>Related pairs first, the best evidence (lowest chance) first: a 1-of-1 follow is no match for 30 of 30.</returns>
    public static List<LeadLagRelation> Analyze(IReadOnlyDictionary<string, List<Burst>> burstsBySite, long windowMs, int bucketMs, long horizonMs,
        IReadOnlySet<string>? involving = null)
    {
        var relations = new List<LeadLagRelation>();
        var starts = burstsBySite.Where(kv => kv.Value.Count > 0)
            .ToDictionary(kv => kv.Key, kv => kv.Value.Select(b => b.StartMs).Order().ToArray());
        foreach (var (leader, leaderStarts) in starts)
        foreach (var (follower, followerStarts) in starts)
        {
            if (leader == follower || (involving is not null && !involving.Contains(leader) && !involving.Contains(follower))) continue;
            relations.Add(Relate(leader, leaderStarts, follower, followerStarts, windowMs, bucketMs, horizonMs));
        }
        return relations
            .OrderBy(r => r.Kind == LeadLagKind.None)
            .ThenBy(r => r.PValue)
            .ThenByDescending(r => r.Followed + r.Coincident)
            .ThenByDescending(r => r.Score)
            .ToList();
    }

    public static LeadLagRelation Relate(string leader, long[] leaderStarts, string follower, long[] followerStarts, long windowMs, int bucketMs, long horizonMs)
    {
        int followed = 0, coincident = 0;
        var lags = new List<long>();
        foreach (var a in leaderStarts)
        {
            var i = LowerBound(followerStarts, a);
            if (i < followerStarts.Length && followerStarts[i] - a < bucketMs)
            {
                coincident++;
                i = LowerBound(followerStarts, a + bucketMs);
            }
            if (i < followerStarts.Length && followerStarts[i] - a <= horizonMs)
            {
                followed++;
                lags.Add(followerStarts[i] - a);
            }
        }

        var rate = followerStarts.Length / (double)Math.Max(windowMs, 1);
        var n = leaderStarts.Length;
        var pFollow = 1 - Math.Exp(-rate * Math.Max(horizonMs - bucketMs, 1));
        var pCoincide = 1 - Math.Exp(-rate * bucketMs);
        var pValue = BinomialTail(n, pFollow, followed);
        var score = pFollow >= 1 ? 0 : (followed / (double)n - pFollow) / (1 - pFollow);

        var kind = LeadLagKind.None;
        if (coincident >= 2 && coincident * 2 >= n && coincident >= followed && BinomialTail(n, pCoincide, coincident) <= Significance)
            kind = LeadLagKind.Coincident;
        else if (followed >= 2 && followed * 2 >= n && pValue <= Significance)
            kind = LeadLagKind.Leads;

        lags.Sort();
        double? median = lags.Count == 0 ? null : (lags[(lags.Count - 1) / 2] + lags[lags.Count / 2]) / 2.0;
        return new LeadLagRelation(leader, follower, n, followed, coincident, median, Math.Round(score, 3), pValue, kind);
    }

    private static int LowerBound(long[] sorted, long value)
    {
        var i = Array.BinarySearch(sorted, value);
        if (i < 0) return ~i;
        while (i > 0 && sorted[i - 1] == value) i--;
        return i;
    }

    /// <summary>P(X ≥ k) for X ~ Binomial(n, p), summed in log space so large n does not underflow.</summary>
    public static double BinomialTail(int n, double p, int k)
    {
        if (k <= 0) return 1;
        if (k > n) return 0;
        if (p <= 0) return 0;
        if (p >= 1) return 1;
        double logP = Math.Log(p), logQ = Math.Log(1 - p);
        var logTerm = LogChoose(n, k) + k * logP + (n - k) * logQ;
        var max = logTerm;
        var terms = new List<double> { logTerm };
        for (var i = k; i < n; i++)
        {
            logTerm += Math.Log((double)(n - i) / (i + 1)) + logP - logQ;
            terms.Add(logTerm);
            max = Math.Max(max, logTerm);
        }
        return Math.Min(1, Math.Exp(max) * terms.Sum(t => Math.Exp(t - max)));
    }

    private static double LogChoose(int n, int k)
    {
        double sum = 0;
        for (var i = 1; i <= k; i++) sum += Math.Log((double)(n - k + i) / i);
        return sum;
    }
}
