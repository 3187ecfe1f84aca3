using System.Globalization;
using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Packets;

namespace DropBoard.Web.Views;

/// <summary>
/// Which drops a view shows: by site (a part of <c>function+0xoffset</c>), drop reason (<c>-</c> for none), protocol
/// name and network namespace (its inode in digits, as the bpf source names it).
/// </summary>
public sealed record DropFilter(string? Site = null, string? Reason = null, string? Protocol = null, string? Netns = null)
{
    public static readonly DropFilter None = new();

    public bool Matches(string site, string? reason, string protocol, uint netns = 0) =>
        (string.IsNullOrEmpty(Site) || site.Contains(Site, StringComparison.OrdinalIgnoreCase))
        && (string.IsNullOrEmpty(Reason) || (reason ?? "-") == Reason)
        && (string.IsNullOrEmpty(Protocol) || protocol == Protocol)
        && MatchesNetns(netns);

    /// <summary>A counter read in <paramref name="netns"/> belongs to the view (every counter without a namespace filter).</summary>
    public bool MatchesNetns(uint netns) => string.IsNullOrEmpty(Netns) || netns.ToString(CultureInfo.InvariantCulture) == Netns;

    public bool Matches(DropBucket drop) => Matches(drop.Site, drop.Reason, EtherType.Name(drop.Protocol), drop.Netns);
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
        });
    }
}
