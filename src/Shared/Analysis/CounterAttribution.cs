using System.Text.RegularExpressions;
using DropBoard.Shared.Contracts;

namespace DropBoard.Shared.Analysis;

/// <summary>Drops at one site for one reason over the window.</summary>
public sealed record SiteCount(string Function, string Site, string? Reason, long Count);

/// <summary>How well drop sites account for a counter's rise.</summary>
public enum AttributionMatch
{
    /// <summary>Drops equal the rise.</summary>
    Exact,
    /// <summary>Within one drop or 1%.</summary>
    Close,
    /// <summary>Drops explain part of the rise; the rest has no drop site (NIC, checksum, another path).</summary>
    Partial,
    /// <summary>More drops than the counter rose: drops in other namespaces, or a site that does not always count.</summary>
    Over,
    /// <summary>The counter rose and no drop site explains any of it.</summary>
    Unexplained,
}

/// <summary>One counter's rise and the drop sites that account for it.</summary>
public sealed record CounterAttribution(string Counter, long Delta, long Explained, AttributionMatch Match, IReadOnlyList<SiteCount> Sites);

/// <summary>Drops that no counter sees, and why.</summary>
public sealed record UncountedDrops(SiteCount Site, string Why);

public sealed record AttributionReport(IReadOnlyList<CounterAttribution> Counters, IReadOnlyList<UncountedDrops> Uncounted);

/// <summary>
/// Which drop sites explain which counter rises, from the knowledge table. One drop may feed two counters
/// (a receive-buffer drop raises both Udp InErrors and RcvbufErrors), so each counter is explained on its own.
/// </summary>
public static partial class CounterAttributor
{
    public static AttributionReport Attribute(IEnumerable<DropBucket> drops, IEnumerable<CounterDelta> counters, string? kernelRelease) =>
        Attribute(Totals(drops), counters, kernelRelease);

    /// <summary>Drops per site and reason over all buckets, most first.</summary>
    public static List<SiteCount> Totals(IEnumerable<DropBucket> drops)
    {
        var totals = new Dictionary<(string Function, string Site, string? Reason), long>();
        foreach (var d in drops)
            System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(totals, (d.Function, d.Site, d.Reason), out _) += d.Count;
        return totals.Select(kv => new SiteCount(kv.Key.Function, kv.Key.Site, kv.Key.Reason, kv.Value))
            .OrderByDescending(s => s.Count).ThenBy(s => s.Site, StringComparer.Ordinal)
            .ToList();
    }

    public static AttributionReport Attribute(IReadOnlyList<SiteCount> sites, IEnumerable<CounterDelta> counters, string? kernelRelease)
    {
        var rises = counters.GroupBy(c => c.Name).ToDictionary(g => g.Key, g => g.Sum(c => c.Delta), StringComparer.Ordinal);

        var feeds = sites.ToDictionary(
            s => s,
            s => KernelKnowledge.CounterSources.Where(r => r.Matches(s.Function, s.Reason, kernelRelease)).ToList());

        var attributions = new List<CounterAttribution>();
        foreach (var (counter, delta) in rises.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            if (delta <= 0 || !IsLossCounter(counter)) continue;
            var explaining = sites.Where(s => feeds[s].Any(r => r.Counters.Contains(counter, StringComparer.Ordinal))).ToList();
            var explained = explaining.Sum(s => s.Count);
            attributions.Add(new CounterAttribution(counter, delta, explained, MatchOf(delta, explained), explaining));
        }

        var uncounted = new List<UncountedDrops>();
        foreach (var site in sites)
        {
            var rows = feeds[site];
            if (rows.Count == 0)
                uncounted.Add(new UncountedDrops(site, "DropBoard's table names no counter for this site and reason"));
            else if (rows.All(r => r.Counters.Length == 0))
                uncounted.Add(new UncountedDrops(site, rows[0].Source));
        }
        return new AttributionReport(attributions, uncounted);
    }

    private static AttributionMatch MatchOf(long delta, long explained)
    {
        if (explained == 0) return AttributionMatch.Unexplained;
        if (explained == delta) return AttributionMatch.Exact;
        if (Math.Abs(delta - explained) <= Math.Max(1, delta / 100)) return AttributionMatch.Close;
        return explained < delta ? AttributionMatch.Partial : AttributionMatch.Over;
    }

    /// <summary>Counters that mean loss: those the table knows drops feed, and error/drop counters by name.</summary>
    public static bool IsLossCounter(string counter) =>
        KernelKnowledge.LossCounters.Contains(counter) || LossName().IsMatch(counter);

    [GeneratedRegex(@"(Errors|Errs|Drops?|Overflows|NoPorts|Discards|Fails|_dropped|_errors|\.dropped)$")]
    private static partial Regex LossName();
}
