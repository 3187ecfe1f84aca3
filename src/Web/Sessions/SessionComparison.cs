using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Sessions;

/// <summary>One site and reason in two sessions: counts, rates per second (durations differ), difference and ratio.</summary>
public sealed record SiteComparison(string Function, string Site, string? Reason, long CountA, long CountB, double RateA, double RateB)
{
    public double RateDifference => RateB - RateA;
    /// <summary>B's rate over A's; null when A never dropped there.</summary>
    public double? RateRatio => RateA == 0 ? null : RateB / RateA;
    public bool OnlyInA => CountB == 0;
    public bool OnlyInB => CountA == 0;
}

public sealed record CounterComparison(string Name, long DeltaA, long DeltaB, double RateA, double RateB)
{
    public double? RateRatio => RateA == 0 ? null : RateB / RateA;
    public bool OnlyInA => DeltaB == 0;
    public bool OnlyInB => DeltaA == 0;
}

public sealed record ComparisonSide(long Id, string Name, double Seconds, long Drops);

/// <summary>The "before the fix / after the fix" view of two sessions.</summary>
public sealed record SessionComparisonResult(ComparisonSide A, ComparisonSide B, IReadOnlyList<SiteComparison> Sites, IReadOnlyList<CounterComparison> Counters);

public static class SessionComparison
{
    /// <summary>Pure: the two sessions' totals in, the comparison out, biggest change in rate first.</summary>
    public static SessionComparisonResult Compare(
        ComparisonSide a, IReadOnlyList<SessionSite> sitesA, IReadOnlyList<CounterDelta> countersA,
        ComparisonSide b, IReadOnlyList<SessionSite> sitesB, IReadOnlyList<CounterDelta> countersB)
    {
        var byKeyA = sitesA.GroupBy(s => (s.Site, s.Reason)).ToDictionary(g => g.Key, g => (g.First().Function, Count: g.Sum(s => s.Count)));
        var byKeyB = sitesB.GroupBy(s => (s.Site, s.Reason)).ToDictionary(g => g.Key, g => (g.First().Function, Count: g.Sum(s => s.Count)));
        var sites = byKeyA.Keys.Union(byKeyB.Keys)
            .Select(k =>
            {
                var (fa, ca) = byKeyA.GetValueOrDefault(k);
                var (fb, cb) = byKeyB.GetValueOrDefault(k);
                return new SiteComparison(fa ?? fb!, k.Site, k.Reason, ca, cb, ca / a.Seconds, cb / b.Seconds);
            })
            .OrderByDescending(s => Math.Abs(s.RateDifference)).ThenBy(s => s.Site, StringComparer.Ordinal)
            .ToList();
        var deltasA = countersA.GroupBy(c => c.Name).ToDictionary(g => g.Key, g => g.Sum(c => c.Delta));
        var deltasB = countersB.GroupBy(c => c.Name).ToDictionary(g => g.Key, g => g.Sum(c => c.Delta));
        var counters = deltasA.Keys.Union(deltasB.Keys).Order(StringComparer.Ordinal)
            .Select(n => new CounterComparison(n, deltasA.GetValueOrDefault(n), deltasB.GetValueOrDefault(n),
                deltasA.GetValueOrDefault(n) / a.Seconds, deltasB.GetValueOrDefault(n) / b.Seconds))
            .ToList();
        return new SessionComparisonResult(a, b, sites, counters);
    }
}
