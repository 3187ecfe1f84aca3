using System.Globalization;

namespace DropBoard.Shared.Analysis;

public enum VerdictKind
{
    /// <summary>Drops a loss counter counts: packets the host lost.</summary>
    Loss,
    /// <summary>A loss counter rose and no drop site accounts for it.</summary>
    Unexplained,
    /// <summary>Drops this kernel reports that are no loss (or often none): a known false positive.</summary>
    NotLoss,
    /// <summary>Drops that follow from another drop or event: counted where that one is.</summary>
    Consequence,
    /// <summary>Drops no counter DropBoard reads sees and no pattern explains.</summary>
    Uncounted,
}

/// <summary>
/// One line of Explain's verdict: what the drops at one function (or a counter's rise, for <see cref="VerdictKind.Unexplained"/>)
/// mean, in a few words the page shows after <see cref="Subject"/>; since when (<see cref="FirstMs"/>, when the drops have
/// times) and what to do about them (from the knowledge table).
/// </summary>
/// <param name="Badge">The verdict in two or three words, for the histogram and attribution rows.</param>
public sealed record SiteVerdict(VerdictKind Kind, string Subject, long Drops, string Badge, string Line, long? FirstMs, string? WhatToDo);

/// <summary>
/// Turns attribution, known patterns and lead/lag into the verdict Explain opens with: one line per function that
/// matters (loss first, then counter rises nothing explains, then what is not a loss on this kernel, then
/// consequences, then the rest in one line) and a headline that says the most important of it in one sentence.
/// </summary>
public static class Verdicts
{
    /// <summary>Functions named one by one in the last line; the rest are counted.</summary>
    private const int OthersNamed = 3;

    /// <param name="firstMs">When each function first dropped, when the drops have times.</param>
    public static (string? Headline, List<SiteVerdict> Lines) Write(IReadOnlyList<SiteCount> sites, AttributionReport attribution,
        IReadOnlyList<LeadLagRelation> relations, string? kernelRelease, IReadOnlyDictionary<string, long>? firstMs, bool filtered = false)
    {
        var lines = new List<SiteVerdict>();
        // What the headline says of a line, where it says more than the line's own words.
        var phrases = new Dictionary<SiteVerdict, string>();
        var functions = sites.GroupBy(s => s.Function, StringComparer.Ordinal)
            .Select(g => (Function: g.Key, Sites: g.ToList(), Drops: g.Sum(s => s.Count)))
            .OrderByDescending(f => f.Drops).ThenBy(f => f.Function, StringComparer.Ordinal)
            .ToList();
        long? First(string function) => firstMs is not null && firstMs.TryGetValue(function, out var ms) ? ms : null;

        var patterns = functions.ToDictionary(f => f.Function, f => PatternOf(f.Sites, kernelRelease), StringComparer.Ordinal);
        var loss = LossFunctions(sites, kernelRelease);
        var risen = attribution.Counters.Where(a => a.Delta > 0).ToList();

        foreach (var f in functions.Where(f => loss.Contains(f.Function)))
        {
            var counters = risen.Where(a => a.Sites.Any(s => s.Function == f.Function)).ToList();
            var feeds = f.Sites.Select(s => KernelKnowledge.Feed(s.Function, s.Reason, s.Protocol, kernelRelease)).ToList();
            var reasons = f.Sites.Where(s => s.Reason is not null).Select(s => s.Reason!).Distinct().ToList();
            var what = $"{Drops(f.Drops)}{(reasons.Count > 0 ? $" [{string.Join(", ", reasons)}]" : "")}";
            var counting = feeds.SelectMany(d => d.Counters).Distinct().Take(2).ToList();
            var counted = $"which {string.Join(" and ", counting)} count{(counting.Count == 1 ? "s" : "")}";
            var line = counters.Count > 0
                ? $"{what}, counted by {string.Join(", ", counters.Select(a => $"{a.Named} +{N(a.Delta)} ({Match(a)})"))}"
                : $"{what}, {counted} (no rise of it in this view)";
            var verdict = new SiteVerdict(VerdictKind.Loss, f.Function, f.Drops, "loss", line, First(f.Function), Join(feeds.Select(d => d.WhatToDo)));
            lines.Add(verdict);
            phrases[verdict] = $"the {N(f.Drops)} drops at {f.Function} are a loss, {counted}";
        }

        foreach (var a in attribution.Counters.Where(a => a.Match == AttributionMatch.Unexplained))
        {
            if (filtered)
            {
                // The drops left out by the filter may explain it: said, but not as a finding.
                lines.Add(new SiteVerdict(VerdictKind.Unexplained, a.Named, 0, "not in this filter",
                    $"+{N(a.Delta)}, which no drop this filter shows explains (clear the filters to see every site)", null, null));
                continue;
            }
            var verdict = new SiteVerdict(VerdictKind.Unexplained, a.Named, 0, "no drop site",
                $"+{N(a.Delta)} with no drop site to explain it: NIC ring overflow, checksum errors and some driver drops raise counters without a drop event", null,
                "look at the device's own statistics (ethtool -S DEV, ip -s -s link show DEV)");
            lines.Add(verdict);
            phrases[verdict] = $"{a.Named} +{N(a.Delta)} has no drop site to explain it";
        }

        foreach (var f in functions.Where(f => !loss.Contains(f.Function) && patterns[f.Function] is { NotLoss: true }))
        {
            var p = patterns[f.Function]!;
            var on = KernelRange.Parse(kernelRelease) is { } release ? $"on kernel {release}" : $"on kernels {Range(p.Kernels)}";
            var badge = $"{(p.Kind == KnownPattern.FalsePositive ? "not a loss" : "often not a loss")} {on}";
            var why = $"{badge}: {p.Verdict ?? p.Explanation}{Change(p)}";
            var verdict = new SiteVerdict(VerdictKind.NotLoss, f.Function, f.Drops, badge, $"{Drops(f.Drops)}: {p.Verdict ?? p.Explanation}{Change(p)}", First(f.Function), null);
            lines.Add(verdict);
            phrases[verdict] = $"the {N(f.Drops)} drops at {f.Function} are {why}";
        }

        foreach (var f in functions.Where(f => !loss.Contains(f.Function) && patterns[f.Function] is not { NotLoss: true }))
        {
            if (patterns[f.Function] is { Kind: KnownPattern.Consequence } p)
            {
                lines.Add(new SiteVerdict(VerdictKind.Consequence, f.Function, f.Drops, "consequence",
                    $"{Drops(f.Drops)}, a consequence of {p.ConsequenceOf ?? "another drop"}: {p.Verdict ?? p.Explanation}", First(f.Function), null));
                continue;
            }
            // Bursts that follow (or coincide with) a loss site's: the same event seen twice, counted at the loss site.
            if (relations.FirstOrDefault(r => r.Kind != LeadLagKind.None
                    && ((r.Follower == f.Function && loss.Contains(r.Leader)) || (r.Kind == LeadLagKind.Coincident && r.Leader == f.Function && loss.Contains(r.Follower))))
                is { } relation)
            {
                var other = relation.Follower == f.Function ? relation.Leader : relation.Follower;
                var how = relation.Kind == LeadLagKind.Leads
                    ? $"its bursts follow {other}'s in {relation.Followed} of {relation.Bursts} cases"
                    : $"its bursts coincide with {other}'s in {relation.Coincident} of {relation.Bursts} cases";
                lines.Add(new SiteVerdict(VerdictKind.Consequence, f.Function, f.Drops, $"consequence of {other}",
                    $"{Drops(f.Drops)}, likely a consequence of {other}: {how}", First(f.Function), null));
            }
        }

        var named = lines.Select(l => l.Subject).ToHashSet(StringComparer.Ordinal);
        var rest = functions.Where(f => !named.Contains(f.Function)).ToList();
        if (rest.Count > 0)
        {
            var list = string.Join(", ", rest.Take(OthersNamed).Select(f => $"{f.Function} {N(f.Drops)}"));
            var more = rest.Count > OthersNamed ? $" and {rest.Count - OthersNamed} more" : "";
            var drops = rest.Sum(f => f.Drops);
            lines.Add(new SiteVerdict(VerdictKind.Uncounted, rest.Count == 1 ? rest[0].Function : $"{rest.Count} other functions", drops, "no counter",
                $"{Drops(drops)} no counter DropBoard reads sees and no known pattern explains ({list}{more}); see the evidence below", null, null));
        }
        return (Headline(lines, phrases, risen, functions.Sum(f => f.Drops)), lines);
    }

    /// <summary>
    /// Functions whose drops some loss counter counts, by the knowledge table (whether or not it rose in the view),
    /// unless a known pattern says they are no loss on this kernel.
    /// </summary>
    public static HashSet<string> LossFunctions(IEnumerable<SiteCount> sites, string? kernelRelease) =>
        sites.GroupBy(s => s.Function, StringComparer.Ordinal)
            .Where(g => g.Any(s => KernelKnowledge.Feed(s.Function, s.Reason, s.Protocol, kernelRelease).Counters.Count > 0)
                        && PatternOf(g.ToList(), kernelRelease) is not { NotLoss: true })
            .Select(g => g.Key)
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// The most important of the verdict in one sentence: what explains the biggest loss counter rises, what no drop
    /// explains, and the biggest drops that are not a loss on this kernel.
    /// </summary>
    private static string? Headline(List<SiteVerdict> lines, Dictionary<SiteVerdict, string> phrases, List<CounterAttribution> risen, long total)
    {
        var parts = new List<string>();
        // Counters explained by the same drops are said together: "Udp.InErrors +174 and Udp.RcvbufErrors +174 are …".
        foreach (var group in risen.Where(a => a.Explained > 0)
                     .GroupBy(a => string.Join(",", a.Sites.Select(s => s.Function).Distinct().Order(StringComparer.Ordinal)))
                     .OrderByDescending(g => g.Max(a => a.Delta)).Take(2))
        {
            var counters = group.ToList();
            var subject = string.Join(" and ", counters.Select(a => $"{a.Named} +{N(a.Delta)}"));
            var verb = counters.Count == 1 ? "is" : "are";
            var first = counters[0];
            var at = $"the {N(first.Explained)} drops at {Functions(first)}";
            parts.Add(first.Match switch
            {
                AttributionMatch.Exact => $"{subject} {verb} explained exactly by {at}",
                AttributionMatch.Close => $"{subject} {verb} explained within {N(Math.Abs(first.Delta - first.Explained))} by {at}",
                AttributionMatch.Partial => $"{subject}: {N(first.Explained)} of it {verb} drops at {Functions(first)}, the rest has no drop site",
                AttributionMatch.AtMost => $"{subject} {verb} counted among {at}, of which {(counters.Count == 1 ? "it counts" : "they count")} only some",
                _ => $"{subject} {verb} fewer than {at} (some of them counted elsewhere)",
            });
        }
        if (parts.Count == 0 && lines.FirstOrDefault(l => l.Kind == VerdictKind.Loss) is { } lossLine)
            parts.Add(phrases[lossLine]);
        parts.AddRange(lines.Where(phrases.ContainsKey).Where(l => l.Kind == VerdictKind.Unexplained).Take(2).Select(l => phrases[l]));
        if (lines.FirstOrDefault(l => l.Kind == VerdictKind.NotLoss) is { } notLoss)
            parts.Add(phrases[notLoss]);
        if (parts.Count == 0)
            return total == 0 ? null : $"None of the {N(total)} drops is a loss a counter DropBoard reads counts.";
        var sentence = string.Join("; ", parts);
        return char.ToUpperInvariant(sentence[0]) + sentence[1..] + (sentence.EndsWith('.') ? "" : ".");
    }

    private static string Functions(CounterAttribution a) => string.Join(" and ", a.Sites.Select(s => s.Function).Distinct());

    /// <summary>The known pattern of a function's drops on this kernel, if any of its sites matches one.</summary>
    private static KnownPattern? PatternOf(IReadOnlyList<SiteCount> sites, string? kernelRelease) =>
        KernelKnowledge.Patterns.FirstOrDefault(p => sites.Any(s => p.Matches(s.Function, s.Reason, kernelRelease)));

    private static string Match(CounterAttribution a) => a.Match switch
    {
        AttributionMatch.Exact => "exact",
        AttributionMatch.Close => $"within {N(Math.Abs(a.Delta - a.Explained))}",
        AttributionMatch.Partial => $"{N(a.Explained)} of it by drops",
        AttributionMatch.AtMost => $"at most the {Drops(a.Explained)}",
        _ => $"{N(a.Explained)} drops for it",
    };

    private static string Change(KnownPattern p) =>
        p.Commit is null ? ""
        : p.ChangedIn is null || (p.Verdict?.Contains(p.ChangedIn, StringComparison.Ordinal) ?? false) ? $" (commit {p.Commit})"
        : $" (changed in {p.ChangedIn}, commit {p.Commit})";

    private static string Range(KernelRange r) => (r.Min, r.Max) switch
    {
        (null, { } max) => $"up to {max}",
        ({ } min, null) => $"from {min}",
        ({ } min, { } max) => $"{min} to {max}",
        _ => "of any release",
    };

    private static string? Join(IEnumerable<string?> texts) =>
        texts.OfType<string>().Distinct().ToList() is { Count: > 0 } distinct ? string.Join("; ", distinct) : null;

    private static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    private static string Drops(long n) => n == 1 ? "1 drop" : $"{N(n)} drops";
}
