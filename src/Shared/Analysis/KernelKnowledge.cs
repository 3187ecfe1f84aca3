using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace DropBoard.Shared.Analysis;

/// <summary>A range of kernel releases, "major.minor" inclusive at both ends; open where a bound is missing.</summary>
public sealed record KernelRange(string? Min = null, string? Max = null)
{
    /// <summary>True when the release lies in the range, or is unknown (then every row may apply).</summary>
    public bool Contains(string? kernelRelease)
    {
        if (Parse(kernelRelease) is not { } release) return true;
        if (Parse(Min) is { } min && release < min) return false;
        if (Parse(Max) is { } max && release > max) return false;
        return true;
    }

    /// <summary>"3.10.0-1160.el7.x86_64" to 3.10; null when it does not start with major.minor.</summary>
    public static Version? Parse(string? release)
    {
        if (string.IsNullOrWhiteSpace(release)) return null;
        var parts = release.Split('.', '-');
        return parts.Length >= 2
               && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
               && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor)
            ? new Version(major, minor)
            : null;
    }
}

/// <summary>
/// Drops at these functions increment these counters: how drops without a reason (old kernels, NET_DM summary
/// mode) are matched, by site. One row of <c>Knowledge/counter-sources.json</c>, with what an operator can do about them.
/// </summary>
public sealed record CounterSource(string[] Functions, KernelRange Kernels, string[] Counters, string Source, string? WhatToDo = null)
{
    public bool Matches(string function, string? kernelRelease) =>
        Kernels.Contains(kernelRelease) && Functions.Contains(function, StringComparer.Ordinal);
}

/// <summary>
/// One way a drop reason is reached: on this protocol (EtherType name, any when null) and at these functions
/// (name patterns, any when empty), the kernel increments these counters (names or patterns) before the drop.
/// <see cref="CountsSome"/>: the counters count only some of the drops DropBoard sees on this path, those of a kind it
/// cannot tell from the others (a qdisc's drops of local UDP datagrams, not of TCP or forwarded packets), or one for
/// several (a reassembly failure for all its fragments): they rise by at most the drops (<see cref="AttributionMatch.AtMost"/>).
/// </summary>
public sealed record DropPath(string? Protocol, string[] Functions, string[] Counters, string Source, bool CountsSome = false)
{
    /// <summary>
    /// A drop of an unknown protocol (the source did not say) matches a path bound to a protocol only by its
    /// functions, so an IPv4 path and its IPv6 twin do not both take it.
    /// </summary>
    public bool Matches(string function, ushort protocol) =>
        (Protocol is null
         || (protocol == 0 ? Functions.Length > 0 : Protocol == Packets.EtherType.Name(protocol)))
        && (Functions.Length == 0 || Functions.Any(f => CounterPattern.Matches(f, function)));
}

/// <summary>
/// What drops for one <c>skb_drop_reason</c> move: the paths that increment counters, and why the others (or all,
/// when <see cref="Paths"/> is empty) move none. One entry of <c>Knowledge/drop-reasons.json</c>.
/// <see cref="NotProvenHere"/> says why a path of it has no experiment in a test namespace (a machine-wide
/// limit, a read-only sysctl, a driver that veth and lo lack), so its counters are the kernel source's word only.
/// <see cref="WhatToDo"/>: what an operator can do about such drops (the sysctl, socket option, qdisc or rule).
/// </summary>
public sealed record DropReasonEntry(string Reason, DropPath[] Paths, string? None, string Source, string? NotProvenHere = null, string? WhatToDo = null);

/// <summary>What the table says about the drops at one site for one reason and protocol.</summary>
/// <param name="Counters">Counter names or patterns they increment; empty when none.</param>
/// <param name="Why">The source of the counters, or why no counter sees them.</param>
/// <param name="WhatToDo">What an operator can do about them, when the table says.</param>
/// <param name="CountingSome">Those of <paramref name="Counters"/> that count only some of them (<see cref="DropPath.CountsSome"/>).</param>
public sealed record DropFeed(IReadOnlyList<string> Counters, string Why, string? WhatToDo = null, IReadOnlyList<string>? CountingSome = null)
{
    /// <summary>Whether <paramref name="counter"/> counts only some of these drops.</summary>
    public bool CountsSome(string counter) => CountingSome?.Contains(counter, StringComparer.Ordinal) ?? false;

    public static readonly DropFeed Unknown = new([], "DropBoard's table names no counter for this site and reason");
}

/// <summary>
/// A drop site that is a consequence or a false positive rather than a cause. <see cref="Verdict"/> says it in a few
/// words; <see cref="ChangedIn"/> and <see cref="Commit"/> name the kernel release and commit that changed it;
/// <see cref="ConsequenceOf"/> what the drops follow from.
/// </summary>
public sealed record KnownPattern(string[] Functions, string[] Reasons, KernelRange Kernels, string Kind, string Explanation, string Source,
    string? Verdict = null, string? ChangedIn = null, string? Commit = null, string? ConsequenceOf = null)
{
    public const string FalsePositive = "false-positive";
    public const string OftenBenign = "often-benign";
    public const string Consequence = "consequence";

    /// <summary>True when these drops are no loss (or often none) on the kernels the pattern covers.</summary>
    public bool NotLoss => Kind is FalsePositive or OftenBenign;

    public bool Matches(string function, string? reason, string? kernelRelease) =>
        Functions.Contains(function, StringComparer.Ordinal)
        && (Reasons.Length == 0 || Reasons.Contains(reason ?? "", StringComparer.Ordinal))
        && Kernels.Contains(kernelRelease);
}

/// <summary>The kernel knowledge DropBoard ships as data (Analysis/Knowledge/*.json), each row with its source.</summary>
public static class KernelKnowledge
{
    /// <summary>Rows by site, for drops without a reason.</summary>
    public static IReadOnlyList<CounterSource> CounterSources { get; } = Load("counter-sources", KnowledgeJson.Default.CounterSourceFile).Rows;

    /// <summary>Every drop reason DropBoard knows, by name.</summary>
    public static IReadOnlyDictionary<string, DropReasonEntry> DropReasons { get; } =
        Load("drop-reasons", KnowledgeJson.Default.DropReasonFile).Reasons.ToDictionary(r => r.Reason, StringComparer.Ordinal);

    public static IReadOnlyList<KnownPattern> Patterns { get; } = Load("known-patterns", KnowledgeJson.Default.PatternFile).Patterns;

    private static readonly string[] AllCounters =
        [.. CounterSources.SelectMany(r => r.Counters), .. DropReasons.Values.SelectMany(r => r.Paths).SelectMany(p => p.Counters)];

    /// <summary>Every counter name some row says drops feed: the counters that mean loss.</summary>
    public static IReadOnlySet<string> LossCounters { get; } = AllCounters.Where(c => !CounterPattern.IsPattern(c)).ToHashSet(StringComparer.Ordinal);

    /// <summary>The counter patterns (<c>Qdisc.*.dropped</c>) some row says drops feed.</summary>
    public static IReadOnlyList<string> LossPatterns { get; } = AllCounters.Where(CounterPattern.IsPattern).Distinct().ToList();

    /// <summary>
    /// The counters drops at <paramref name="function"/> for <paramref name="reason"/> and
    /// <paramref name="protocol"/> increment. With a reason, the reason's paths decide (a reason is reached at
    /// many functions, for IPv4 and IPv6, for TCP and UDP); without one, the function does.
    /// </summary>
    public static DropFeed Feed(string function, string? reason, ushort protocol, string? kernelRelease)
    {
        if (reason is null)
        {
            var rows = CounterSources.Where(r => r.Matches(function, kernelRelease)).ToList();
            return rows.Count == 0 ? DropFeed.Unknown : new DropFeed(rows.SelectMany(r => r.Counters).Distinct().ToList(), rows[0].Source, rows[0].WhatToDo);
        }
        if (!DropReasons.TryGetValue(reason, out var entry)) return DropFeed.Unknown;
        var paths = entry.Paths.Where(p => p.Matches(function, protocol)).ToList();
        if (paths.Count > 0)
        {
            // A counter that some matching path counts in full is counted in full: the path decides, not the site.
            var counters = paths.SelectMany(p => p.Counters).Distinct().ToList();
            var inFull = paths.Where(p => !p.CountsSome).SelectMany(p => p.Counters).ToHashSet(StringComparer.Ordinal);
            var some = paths.Where(p => p.CountsSome).SelectMany(p => p.Counters).Where(c => !inFull.Contains(c)).Distinct().ToList();
            return new DropFeed(counters, paths[0].Source, entry.WhatToDo, some.Count > 0 ? some : null);
        }
        return new DropFeed([], entry.None is null
            ? $"{reason} at {function} is not on a path the table knows to count ({entry.Source})"
            : $"{entry.None} ({entry.Source})", entry.WhatToDo);
    }

    private static T Load<T>(string name, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        using var stream = typeof(KernelKnowledge).Assembly.GetManifestResourceStream($"DropBoard.Knowledge.{name}.json")
            ?? throw new InvalidOperationException($"knowledge table {name}.json is not embedded");
        return JsonSerializer.Deserialize(stream, type) ?? throw new InvalidOperationException($"knowledge table {name}.json is empty");
    }
}

internal sealed record CounterSourceFile(CounterSource[] Rows);

internal sealed record DropReasonFile(DropReasonEntry[] Reasons);

internal sealed record PatternFile(KnownPattern[] Patterns);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(CounterSourceFile))]
[JsonSerializable(typeof(DropReasonFile))]
[JsonSerializable(typeof(PatternFile))]
internal sealed partial class KnowledgeJson : JsonSerializerContext;
