using System.Globalization;
using DropBoard.Shared.Contracts;

namespace DropBoard.Shared.Analysis;

public sealed record ExplainOptions
{
    /// <summary>Release of the kernel that made the drops (<c>uname -r</c>), when known: the table and patterns depend on it.</summary>
    public string? KernelRelease { get; init; }
    public int BucketMs { get; init; } = 10;
    /// <summary>How long after a burst of A a burst of B still counts as following it.</summary>
    public long HorizonMs { get; init; } = 1000;
    /// <summary>Lead/lag is computed among the sites with the most drops, this many.</summary>
    public int TopSites { get; init; } = 12;
    public long? WindowStartMs { get; init; }
    public long? WindowEndMs { get; init; }
    /// <summary>The counters were sampled over the window's span, so one that did not move at all is news too.</summary>
    public bool CountersSampled { get; init; }
    /// <summary>
    /// The drops have real times. Without them (a dropwatch terminal) only counts are explained: no bursts, no lead/lag,
    /// no "since when".
    /// </summary>
    public bool Timed { get; init; } = true;
    /// <summary>
    /// The view leaves some drops out (a site, reason or protocol filter) but not the counters: a rise no shown drop
    /// explains may be explained by the drops left out, so it is not said to have no drop site.
    /// </summary>
    public bool Filtered { get; init; }
}

/// <summary>A known pattern that applies to a site seen in the window.</summary>
public sealed record PatternHit(string Function, string Site, string Kind, string Explanation, string Source);

/// <summary>
/// What DropBoard can say about a window of drops and counters: the verdict first (<see cref="Headline"/>, one
/// <see cref="Verdicts"/> line per function that matters), then the evidence in plain sentences and tables. Bursts and
/// lead/lag were read at <see cref="BucketMs"/> with a follower counted up to <see cref="HorizonMs"/> later (0 without times).
/// </summary>
public sealed record ExplainReport(
    IReadOnlyList<CounterAttribution> Attribution,
    IReadOnlyList<UncountedDrops> Uncounted,
    IReadOnlyList<Burst> Bursts,
    IReadOnlyList<LeadLagRelation> LeadLag,
    IReadOnlyList<PatternHit> Patterns,
    IReadOnlyList<string> Sentences,
    string? Headline,
    IReadOnlyList<SiteVerdict> Verdicts,
    int BucketMs,
    long HorizonMs);

/// <summary>Counter attribution, bursts, lead/lag and known patterns over one window, live or recorded.</summary>
public static class Explainer
{
    public static ExplainReport Explain(IReadOnlyList<DropBucket> drops, IReadOnlyList<CounterDelta> counters, ExplainOptions? options = null)
    {
        options ??= new ExplainOptions();
        var sites = CounterAttributor.Totals(drops);
        var attribution = CounterAttributor.Attribute(sites, counters, options.KernelRelease, options.CountersSampled);

        // One pass: per function, its buckets (sites of one function share a lane; the detector merges equal starts).
        var byFunction = new Dictionary<string, List<(long StartMs, long Count)>>(StringComparer.Ordinal);
        long first = long.MaxValue, last = long.MinValue;
        List<(long StartMs, long Count)>? series = null;
        string? seriesOf = null;
        foreach (var d in drops)
        {
            if (!ReferenceEquals(d.Function, seriesOf) && d.Function != seriesOf)
            {
                seriesOf = d.Function;
                if (!byFunction.TryGetValue(d.Function, out series)) byFunction[d.Function] = series = [];
            }
            series!.Add((d.StartMs, d.Count));
            first = Math.Min(first, d.StartMs);
            last = Math.Max(last, d.StartMs);
        }
        var windowStart = options.WindowStartMs ?? (drops.Count == 0 ? 0 : first);
        var windowEnd = options.WindowEndMs ?? (drops.Count == 0 ? 0 : last + options.BucketMs);

        var top = sites.GroupBy(s => s.Function).OrderByDescending(g => g.Sum(s => s.Count)).Take(options.TopSites).Select(g => g.Key).ToHashSet();
        var bursts = options.Timed
            ? byFunction.ToDictionary(kv => kv.Key, kv => BurstDetector.Detect(kv.Key, kv.Value, windowStart, windowEnd, options.BucketMs))
            : [];
        // Only pairs with a loss site in them: whether one lossless site leads another says nothing about loss.
        var loss = Verdicts.LossFunctions(sites, options.KernelRelease);
        var relations = LeadLag.Analyze(
            bursts.Where(kv => top.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value),
            windowEnd - windowStart, options.BucketMs, options.HorizonMs, involving: loss);

        var patterns = sites
            .SelectMany(s => KernelKnowledge.Patterns.Where(p => p.Matches(s.Function, s.Reason, options.KernelRelease))
                .Select(p => new PatternHit(s.Function, s.Site, p.Kind, p.Explanation, p.Source)))
            .DistinctBy(h => (h.Function, h.Explanation))
            .ToList();

        var firstMs = options.Timed ? byFunction.ToDictionary(kv => kv.Key, kv => kv.Value.Min(b => b.StartMs), StringComparer.Ordinal) : null;
        var (headline, verdicts) = Verdicts.Write(sites, attribution, relations, options.KernelRelease, firstMs, options.Filtered);
        return new ExplainReport(
            attribution.Counters,
            attribution.Uncounted,
            bursts.Values.SelectMany(b => b).OrderBy(b => b.StartMs).ToList(),
            relations,
            patterns,
            Sentences(attribution, relations, patterns),
            headline,
            verdicts,
            options.Timed ? options.BucketMs : 0,
            options.Timed ? options.HorizonMs : 0);
    }

    private static List<string> Sentences(AttributionReport attribution, List<LeadLagRelation> relations, List<PatternHit> patterns)
    {
        var sentences = new List<string>();
        foreach (var a in attribution.Counters)
        {
            var counter = a.Named;
            var sites = string.Join(", ", a.Sites.Take(3).Select(s => $"{N(s.Count)} at {s.Site}{(s.Reason is null ? "" : $" [{s.Reason}]")}"));
            sentences.Add(a.Match switch
            {
                AttributionMatch.Exact => $"{counter} +{N(a.Delta)} is explained exactly by {sites}.",
                AttributionMatch.Close => $"{counter} +{N(a.Delta)} is explained within {N(Math.Abs(a.Delta - a.Explained))} by {sites}.",
                AttributionMatch.Partial => $"{counter} +{N(a.Delta)}: {N(a.Explained)} explained by {sites}; {N(a.Delta - a.Explained)} have no drop site (NIC, checksum or a path without a drop event).",
                AttributionMatch.Over when a.Delta == 0 => $"{counter} did not move while {N(a.Explained)} drops ({sites}) should have raised it: they happened where this counter does not look (another network namespace?).",
                AttributionMatch.AtMost => $"{counter} +{N(a.Delta)} over the same span as {N(a.Explained)} drops ({sites}): it counts only some of these (one kind of packet, or one for several), so it rises by at most the drops, as here.",
                AttributionMatch.Over => $"{counter} +{N(a.Delta)} over the same span as {N(a.Explained)} drops ({sites}): {N(a.Explained - a.Delta)} of these drops were not counted by it (a path at the same site that does not count, or one counted elsewhere).",
                _ => $"{counter} +{N(a.Delta)} has no drop site that explains it (NIC ring overflow, checksum errors and some driver drops raise counters without a drop event).",
            });
        }
        // A known pattern says what its drops are (below): no "raise no counter" for them.
        foreach (var u in attribution.Uncounted.Where(u => patterns.All(p => p.Function != u.Site.Function)).Take(5))
            sentences.Add($"{N(u.Site.Count)} drops at {u.Site.Site}{(u.Site.Reason is null ? "" : $" [{u.Site.Reason}]")} raise no counter: {u.Why}.");
        foreach (var r in relations.Where(r => r.Kind != LeadLagKind.None).Take(5))
        {
            var sentence = r.Kind == LeadLagKind.Leads
                ? $"{r.Leader} bursts precede {r.Follower} bursts in {r.Followed} of {r.Bursts} cases (median lag {r.MedianLagMs:0} ms; chance would give this with p = {P(r.PValue)})."
                : $"{r.Leader} and {r.Follower} burst together in {r.Coincident} of {r.Bursts} cases: the same event seen at two sites, or one cause.";
            var caveat = patterns.FirstOrDefault(p => p.Function == r.Leader);
            sentences.Add(caveat is null ? sentence : $"{sentence} But {caveat.Function} is a known {caveat.Kind}: {caveat.Explanation}");
        }
        foreach (var p in patterns.Where(p => !relations.Any(r => r.Kind != LeadLagKind.None && r.Leader == p.Function)))
            sentences.Add($"{p.Function}: {p.Explanation}");
        return sentences;
    }

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string P(double p) => p < 0.001 ? "< 0.001" : p.ToString("0.###", CultureInfo.InvariantCulture);
}
