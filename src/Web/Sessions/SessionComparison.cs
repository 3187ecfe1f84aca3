using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Sessions;

/// <summary>
/// One offset (and reason) of a function in two sessions. Offsets move between kernel builds: when a function has
/// one unmatched offset on each side, the two are paired (<c>udp_queue_rcv_skb+0x218</c> beside <c>+0x22c</c>).
/// </summary>
public sealed record OffsetComparison(string? SiteA, string? ReasonA, long CountA, string? SiteB, string? ReasonB, long CountB);

/// <summary>
/// One kernel function in two sessions: counts, rates per second when both sessions have a duration (their lengths
/// differ), difference and ratio, and its offsets nested. <see cref="FunctionB"/> differs from
/// <see cref="Function"/> when <see cref="Rename"/> paired two names of one site.
/// </summary>
public sealed record FunctionComparison(
    string Function, string FunctionB, KernelRename? Rename, long CountA, long CountB, double? RateA, double? RateB,
    IReadOnlyList<OffsetComparison> Offsets)
{
    public double? RateDifference => RateB - RateA;
    /// <summary>B's rate over A's; null when A never dropped there or a side has no duration.</summary>
    public double? RateRatio => RateA is null or 0 ? null : RateB / RateA;
    public bool OnlyInA => CountB == 0;
    public bool OnlyInB => CountA == 0;
}

/// <summary>
/// A counter in two sessions. A side that recorded no counter of its group (<c>Udp</c> of <c>Udp.InErrors</c>: a
/// <c>netstat -su</c> text has only Udp, a dropwatch terminal none) did not record it: null, not a rise of zero.
/// </summary>
public sealed record CounterComparison(string Name, long? DeltaA, long? DeltaB, double? RateA, double? RateB)
{
    public double? RateRatio => RateA is null or 0 ? null : RateB / RateA;
    /// <summary>A counter of loss (the Explain panel's rule), listed before traffic counters.</summary>
    public bool Loss => CounterAttributor.IsLossCounter(Name);
    public bool OnlyInA => DeltaB is null or 0;
    public bool OnlyInB => DeltaA is null or 0;
}

/// <param name="Seconds">Null for a session without timestamps whose duration nobody gave: no rates.</param>
public sealed record ComparisonSide(long Id, string Name, double? Seconds, long Drops, IReadOnlyList<string> Kernels, bool HasTimestamps);

/// <summary>The "before the fix / after the fix" view of two sessions.</summary>
public sealed record SessionComparisonResult(ComparisonSide A, ComparisonSide B, IReadOnlyList<FunctionComparison> Functions, IReadOnlyList<CounterComparison> Counters)
{
    /// <summary>Rates need both lengths; without them rows are ordered by counts.</summary>
    public bool Rates => A.Seconds is not null && B.Seconds is not null;
}

public static class SessionComparison
{
    /// <summary>Pure: the two sessions' totals in, the comparison out, by function, biggest change (in rate, else in count) first.</summary>
    public static SessionComparisonResult Compare(
        ComparisonSide a, IReadOnlyList<SessionSite> sitesA, IReadOnlyList<CounterDelta> countersA,
        ComparisonSide b, IReadOnlyList<SessionSite> sitesB, IReadOnlyList<CounterDelta> countersB)
    {
        var rates = a.Seconds is not null && b.Seconds is not null;
        var byFunctionA = sitesA.GroupBy(s => s.Function).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var byFunctionB = sitesB.GroupBy(s => s.Function).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        var names = byFunctionA.Keys.Union(byFunctionB.Keys).Select(f => (A: f, B: f, Rename: (KernelRename?)null)).ToList();
        foreach (var rename in KernelRenames.Known)
        {
            // One side has only the old name, the other only the new: one row. (A new kernel has both, as two functions.)
            var oldInA = byFunctionA.ContainsKey(rename.Old) && !byFunctionA.ContainsKey(rename.New) && byFunctionB.ContainsKey(rename.New) && !byFunctionB.ContainsKey(rename.Old);
            var oldInB = byFunctionB.ContainsKey(rename.Old) && !byFunctionB.ContainsKey(rename.New) && byFunctionA.ContainsKey(rename.New) && !byFunctionA.ContainsKey(rename.Old);
            if (!oldInA && !oldInB) continue;
            var (nameA, nameB) = oldInA ? (rename.Old, rename.New) : (rename.New, rename.Old);
            names.RemoveAll(n => n.A == rename.Old || n.A == rename.New);
            names.Add((nameA, nameB, rename));
        }

        var functions = names
            .Select(n =>
            {
                var a1 = byFunctionA.GetValueOrDefault(n.A) ?? [];
                var b1 = byFunctionB.GetValueOrDefault(n.B) ?? [];
                long countA = a1.Sum(s => s.Count), countB = b1.Sum(s => s.Count);
                return new FunctionComparison(n.A, n.B, n.Rename, countA, countB,
                    rates ? countA / a.Seconds : null, rates ? countB / b.Seconds : null, Offsets(a1, b1));
            })
            .OrderByDescending(f => rates ? Math.Abs(f.RateDifference!.Value) : Math.Abs(f.CountB - f.CountA))
            .ThenBy(f => f.Function, StringComparer.Ordinal)
            .ToList();

        var deltasA = Deltas(countersA);
        var deltasB = Deltas(countersB);
        var groupsA = deltasA.Keys.Select(Group).ToHashSet(StringComparer.Ordinal);
        var groupsB = deltasB.Keys.Select(Group).ToHashSet(StringComparer.Ordinal);
        var counters = deltasA.Keys.Union(deltasB.Keys).OrderBy(n => CounterAttributor.IsLossCounter(n) ? 0 : 1).ThenBy(n => n, StringComparer.Ordinal)
            .Select(n =>
            {
                long? da = groupsA.Contains(Group(n)) ? deltasA.GetValueOrDefault(n) : null;
                long? db = groupsB.Contains(Group(n)) ? deltasB.GetValueOrDefault(n) : null;
                return new CounterComparison(n, da, db, rates ? da / a.Seconds : null, rates ? db / b.Seconds : null);
            })
            .ToList();
        return new SessionComparisonResult(a, b, functions, counters);
    }

    /// <summary>The same site and reason side by side; then a lone leftover on each side, as the same site at another offset.</summary>
    private static List<OffsetComparison> Offsets(List<SessionSite> a, List<SessionSite> b)
    {
        var keyed = (List<SessionSite> sites) => sites.GroupBy(s => (s.Site, s.Reason)).ToDictionary(g => g.Key, g => g.Sum(s => s.Count));
        var (inA, inB) = (keyed(a), keyed(b));
        var rows = inA.Keys.Intersect(inB.Keys).Select(k => new OffsetComparison(k.Site, k.Reason, inA[k], k.Site, k.Reason, inB[k])).ToList();
        var leftA = inA.Keys.Except(inB.Keys).ToList();
        var leftB = inB.Keys.Except(inA.Keys).ToList();
        if (leftA.Count == 1 && leftB.Count == 1)
            rows.Add(new OffsetComparison(leftA[0].Site, leftA[0].Reason, inA[leftA[0]], leftB[0].Site, leftB[0].Reason, inB[leftB[0]]));
        else
        {
            rows.AddRange(leftA.Select(k => new OffsetComparison(k.Site, k.Reason, inA[k], null, null, 0)));
            rows.AddRange(leftB.Select(k => new OffsetComparison(null, null, 0, k.Site, k.Reason, inB[k])));
        }
        return rows.OrderByDescending(r => Math.Max(r.CountA, r.CountB)).ThenBy(r => r.SiteA ?? r.SiteB, StringComparer.Ordinal).ToList();
    }

    private static Dictionary<string, long> Deltas(IReadOnlyList<CounterDelta> counters) =>
        counters.GroupBy(c => c.Name).ToDictionary(g => g.Key, g => g.Sum(c => c.Delta), StringComparer.Ordinal);

    // "Udp" of "Udp.InErrors", "Dev" of "Dev.lo.rx_bytes": what one source records together.
    private static string Group(string counter) => counter.Split('.', 2)[0];
}
