using System.Globalization;
using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Packets;

namespace DropBoard.Web.Views;

/// <summary>
/// Which drops a view shows: by site (a part of <c>function+0xoffset</c>), drop reason (<c>-</c> for none), protocol name,
/// network namespace (its inode in digits, as the bpf source names it), and whether frees of sockets that carry no
/// network traffic (<see cref="NonNetworkFrees"/>) are in: pages leave them out unless asked (their switch), the API
/// keeps every drop.
/// </summary>
public sealed record DropFilter(string? Site = null, string? Reason = null, string? Protocol = null, bool NonNetwork = true, string? Netns = null)
{
    public static readonly DropFilter None = new();

    public bool Matches(string site, string? reason, string protocol, uint netns) =>
        (string.IsNullOrEmpty(Site) || site.Contains(Site, StringComparison.OrdinalIgnoreCase))
        && (string.IsNullOrEmpty(Reason) || (reason ?? "-") == Reason)
        && (string.IsNullOrEmpty(Protocol) || protocol == Protocol)
        && MatchesNetns(netns)
        // A site starts with its function's name, which is what tells a non-network free.
        && (NonNetwork || !NonNetworkFrees.Is(site));

    /// <summary>A counter read in <paramref name="netns"/> belongs to the view (every counter without a namespace filter).</summary>
    public bool MatchesNetns(uint netns) => string.IsNullOrEmpty(Netns) || netns.ToString(CultureInfo.InvariantCulture) == Netns;

    public bool Matches(DropBucket drop) => Matches(drop.Site, drop.Reason, EtherType.Name(drop.Protocol), drop.Netns);

    /// <summary>
    /// Some drops that could explain a counter are left out (non-network frees explain none; a namespace filter
    /// leaves out the other namespaces' counters with their drops).
    /// </summary>
    public bool Narrows => !string.IsNullOrEmpty(Site) || !string.IsNullOrEmpty(Reason) || !string.IsNullOrEmpty(Protocol);
}

/// <summary>
/// One view of recorded drops: a host (or all), the drops to show and a window. Every panel of a session or an
/// investigation (histogram, drops over time, counters, Explain) is read with the same request, so they all
/// show the same slice.
/// </summary>
public sealed record ViewRequest(string? Host = null, DropFilter? Filter = null, long? FromMs = null, long? ToMs = null)
{
    public DropFilter Drops => Filter ?? DropFilter.None;
}

/// <summary>Filter texts as pages take them from the URL and put them back.</summary>
public static class ViewFilters
{
    public const int MaxLength = 200;

    /// <summary>At most <see cref="MaxLength"/> characters; none is "".</summary>
    public static string Bounded(string? text) => text is null ? "" : text.Length > MaxLength ? text[..MaxLength] : text;

    /// <summary>"" leaves the URL: null.</summary>
    public static string? Blank(string text) => text.Length == 0 ? null : text;
}

/// <summary>The explanation of a view, with its options set in one place for live and recorded views alike.</summary>
public static class ViewExplanation
{
    /// <summary>
    /// Explains the drops and counter rises of <paramref name="span"/> only, so both cover exactly the same time;
    /// without a span (fewer than two counter samples in the view) there is nothing to compare drops with and
    /// only the drops are explained.
    /// </summary>
    public static ExplainReport Explain(IEnumerable<DropBucket> drops, IReadOnlyList<CounterDelta> counters, DropFilter filter,
        string? kernel, int bucketMs, SampleSpan? span)
    {
        // The agent splits the bucket that holds a counter sample at the sample; bursts read both parts as one bucket.
        var shown = drops.Where(d => filter.Matches(d) && (span is null || span.Holds(d)))
            .Select(d => d.StartMs % bucketMs == 0 ? d : d with { StartMs = d.StartMs / bucketMs * bucketMs })
            .ToList();
        return Explainer.Explain(shown, span is null ? [] : counters.Where(c => span.Holds(c) && filter.MatchesNetns(c.Netns)).ToList(), new ExplainOptions
        {
            KernelRelease = kernel,
            BucketMs = bucketMs,
            // Two buckets at least: at a coarse bucket a follower lands in the next one.
            HorizonMs = Math.Max(1000, 2L * bucketMs),
            // On bucket edges: a bucket that starts before the window but holds drops inside it belongs to it.
            WindowStartMs = span?.StartMs / bucketMs * bucketMs,
            WindowEndMs = (span?.EndMs + bucketMs - 1) / bucketMs * bucketMs,
            CountersSampled = span is not null,
            Filtered = filter.Narrows,
        });
    }

    /// <summary>
    /// Explains drops that have no times (a dropwatch terminal) by their counts: attribution, known patterns and the
    /// verdict against all the counters given (an import's before/after texts); no bursts, lead/lag or "since when".
    /// </summary>
    public static ExplainReport ExplainCounts(IEnumerable<DropBucket> drops, IReadOnlyList<CounterDelta> counters, DropFilter filter, string? kernel) =>
        Explainer.Explain(drops.Where(filter.Matches).ToList(), counters, new ExplainOptions { KernelRelease = kernel, Timed = false, Filtered = filter.Narrows });
}
