using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using DropBoard.Shared.Contracts;

namespace DropBoard.Shared.Analysis;

/// <summary>Drops at one site for one reason and protocol (EtherType, 0 when unknown) over the window.</summary>
/// <param name="Netns">The network namespace they were dropped in (bpf source), 0 when the source does not say.</param>
public sealed record SiteCount(string Function, string Site, string? Reason, long Count, ushort Protocol = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NetnsName = null);

/// <summary>How well drop sites account for a counter's rise.</summary>
public enum AttributionMatch
{
    /// <summary>Drops equal the rise.</summary>
    Exact,
    /// <summary>Within one drop or 1%.</summary>
    Close,
    /// <summary>Drops explain part of the rise; the rest has no drop site (NIC, checksum, another path).</summary>
    Partial,
    /// <summary>
    /// More drops than the counter rose over the same span: a site that does not always count; with a counter that
    /// did not move at all (<see cref="CounterAttribution.Delta"/> 0), drops where it does not look (another namespace).
    /// </summary>
    Over,
    /// <summary>The counter rose and no drop site explains any of it.</summary>
    Unexplained,
    /// <summary>
    /// More drops than the counter rose, by no more than the drops it counts only some of
    /// (<see cref="DropPath.CountsSome"/>: a qdisc drops TCP as well as UDP, and only UDP's send path counts): the
    /// counter is a lower bound of the drops, as expected, not a disagreement.
    /// </summary>
    AtMost,
}

/// <summary>One counter's rise and the drop sites that account for it.</summary>
/// <param name="Netns">The network namespace the counter was read in and the drops were held to (bpf source), 0 when not told.</param>
public sealed record CounterAttribution(string Counter, long Delta, long Explained, AttributionMatch Match, IReadOnlyList<SiteCount> Sites,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NetnsName = null)
{
    /// <summary>The counter as sentences and verdicts name it: with its namespace when it has one.</summary>
    [JsonIgnore]
    public string Named => Netns == 0 ? Counter : $"{Counter} in netns {NetnsName ?? Netns.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}

/// <summary>Drops that no counter sees, and why.</summary>
public sealed record UncountedDrops(SiteCount Site, string Why);

public sealed record AttributionReport(IReadOnlyList<CounterAttribution> Counters, IReadOnlyList<UncountedDrops> Uncounted);

/// <summary>
/// Which drop sites explain which counter rises, from the knowledge table. One drop may feed two counters
/// (a receive-buffer drop raises both Udp InErrors and RcvbufErrors), so each counter is explained on its own.
/// </summary>
public static partial class CounterAttributor
{
    public static AttributionReport Attribute(IEnumerable<DropBucket> drops, IEnumerable<CounterDelta> counters, string? kernelRelease,
        bool countersSampled = false) =>
        Attribute(Totals(drops), counters, kernelRelease, countersSampled);

    /// <summary>Drops per site, reason, protocol and network namespace over all buckets, most first.</summary>
    public static List<SiteCount> Totals(IEnumerable<DropBucket> drops)
    {
        var totals = new Dictionary<(string Function, string Site, string? Reason, ushort Protocol, uint Netns), long>();
        var names = new Dictionary<uint, string>();
        foreach (var d in drops)
        {
            System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(totals, (d.Function, d.Site, d.Reason, d.Protocol, d.Netns), out _) += d.Count;
            if (d.NetnsName is not null) names[d.Netns] = d.NetnsName;
        }
        return totals.Select(kv => new SiteCount(kv.Key.Function, kv.Key.Site, kv.Key.Reason, kv.Value, kv.Key.Protocol, kv.Key.Netns, names.GetValueOrDefault(kv.Key.Netns)))
            .OrderByDescending(s => s.Count).ThenBy(s => s.Site, StringComparer.Ordinal).ThenBy(s => s.Protocol).ThenBy(s => s.Netns)
            .ToList();
    }

    /// <param name="countersSampled">
    /// The counters were sampled over the drops' span: a counter the drops should have moved and that did not
    /// rise at all is reported too (Over, delta 0), since that says the drops happened where it does not look.
    /// </param>
    /// <remarks>
    /// Drops and counters that name their network namespace (bpf source) are compared one namespace at a time: a
    /// namespace's counters only with that namespace's drops. Without namespaces (every other source) all is one.
    /// </remarks>
    public static AttributionReport Attribute(IReadOnlyList<SiteCount> sites, IEnumerable<CounterDelta> counters, string? kernelRelease,
        bool countersSampled = false)
    {
        var deltas = counters as IReadOnlyCollection<CounterDelta> ?? counters.ToList();
        var namespaces = sites.Select(s => s.Netns).Concat(deltas.Select(c => c.Netns)).Distinct().Order().ToList();
        if (namespaces is [0] or []) return AttributeOne(sites, deltas, kernelRelease, countersSampled);
        var names = sites.Where(s => s.NetnsName is not null).GroupBy(s => s.Netns).ToDictionary(g => g.Key, g => g.First().NetnsName);
        var counted = new List<CounterAttribution>();
        var uncounted = new List<UncountedDrops>();
        foreach (var netns in namespaces)
        {
            var one = AttributeOne(sites.Where(s => s.Netns == netns).ToList(), deltas.Where(c => c.Netns == netns), kernelRelease, countersSampled);
            counted.AddRange(one.Counters.Select(a => a with { Netns = netns, NetnsName = names.GetValueOrDefault(netns) }));
            uncounted.AddRange(one.Uncounted);
        }
        counted.Sort((a, b) => string.CompareOrdinal(a.Counter, b.Counter) is var byName and not 0 ? byName : a.Netns.CompareTo(b.Netns));
        return new AttributionReport(counted, [.. uncounted.OrderByDescending(u => u.Site.Count)]);
    }

    private static AttributionReport AttributeOne(IReadOnlyList<SiteCount> sites, IEnumerable<CounterDelta> counters, string? kernelRelease,
        bool countersSampled)
    {
        var rises = counters.GroupBy(c => c.Name).ToDictionary(g => g.Key, g => g.Sum(c => c.Delta), StringComparer.Ordinal);
        var feeds = sites.ToDictionary(s => s, s => KernelKnowledge.Feed(s.Function, s.Reason, s.Protocol, kernelRelease));

        // A pattern names a family (every qdisc's drops, every rule's packets): drops cannot be told apart by
        // instance, so the instances that rose are summed and explained together.
        var groups = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        foreach (var (counter, delta) in rises.OrderBy(r => r.Key, StringComparer.Ordinal))
        {
            if (delta <= 0 || !IsLossCounter(counter)) continue;
            var pattern = feeds.Values.SelectMany(f => f.Counters).FirstOrDefault(c => CounterPattern.IsPattern(c) && CounterPattern.Matches(c, counter));
            var key = pattern ?? counter;
            if (!groups.TryGetValue(key, out var members)) groups[key] = members = [];
            members.Add(counter);
        }

        var attributions = new List<CounterAttribution>();
        foreach (var (key, members) in groups)
        {
            var delta = members.Sum(m => rises[m]);
            var explaining = sites.Where(s => feeds[s].Counters.Contains(key, StringComparer.Ordinal)).ToList();
            var explained = explaining.Sum(s => s.Count);
            var some = explaining.Where(s => feeds[s].CountsSome(key)).Sum(s => s.Count);
            attributions.Add(new CounterAttribution(string.Join(" + ", members), delta, explained, MatchOf(delta, explained, some), explaining));
        }
        if (countersSampled)
            foreach (var counter in feeds.Values.SelectMany(f => f.Counters).Where(c => !CounterPattern.IsPattern(c) && !rises.ContainsKey(c)).Distinct())
            {
                var explaining = sites.Where(s => feeds[s].Counters.Contains(counter, StringComparer.Ordinal)).ToList();
                var explained = explaining.Sum(s => s.Count);
                // Still: drops it counts only some of (TCP's at a qdisc) need not raise it at all.
                var match = explaining.All(s => feeds[s].CountsSome(counter)) ? AttributionMatch.AtMost : AttributionMatch.Over;
                attributions.Add(new CounterAttribution(counter, 0, explained, match, explaining));
            }
        attributions.Sort((a, b) => string.CompareOrdinal(a.Counter, b.Counter));

        var uncounted = sites.Where(s => feeds[s].Counters.Count == 0).Select(s => new UncountedDrops(s, feeds[s].Why)).ToList();
        return new AttributionReport(attributions, uncounted);
    }

    /// <param name="countedSome">Those of the <paramref name="explained"/> drops the counter counts only some of.</param>
    private static AttributionMatch MatchOf(long delta, long explained, long countedSome)
    {
        if (explained == 0) return AttributionMatch.Unexplained;
        if (explained == delta) return AttributionMatch.Exact;
        // Between the drops it always counts and all of them: what a counter that counts only some of them shows.
        if (countedSome > 0 && delta < explained && delta >= explained - countedSome) return AttributionMatch.AtMost;
        if (Math.Abs(delta - explained) <= Math.Max(1, delta / 100)) return AttributionMatch.Close;
        return explained < delta ? AttributionMatch.Partial : AttributionMatch.Over;
    }

    /// <summary>Counters that mean loss: those the table knows drops feed, and error/drop counters by name.</summary>
    public static bool IsLossCounter(string counter) =>
        KernelKnowledge.LossCounters.Contains(counter)
        || LossName().IsMatch(counter)
        || KernelKnowledge.LossPatterns.Any(p => CounterPattern.Matches(p, counter));

    [GeneratedRegex(@"(Errors|Errs|Drops?|Overflows|NoPorts|Discards|Fails|_dropped|_errors|\.dropped)$")]
    private static partial Regex LossName();
}
