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

/// <summary>Drops at these functions or with these reasons increment these counters (one knowledge-table row).</summary>
public sealed record CounterSource(string[] Functions, string[] Reasons, KernelRange Kernels, string[] Counters, string Source)
{
    /// <summary>
    /// A drop with a reason matches only a row that names that reason (a function has many drop paths); a
    /// drop without one (old kernels, NET_DM summary mode) matches by function.
    /// </summary>
    public bool Matches(string function, string? reason, string? kernelRelease) =>
        Kernels.Contains(kernelRelease)
        && (reason is not null && Reasons.Length > 0
            ? Reasons.Contains(reason, StringComparer.Ordinal)
            : Functions.Contains(function, StringComparer.Ordinal));
}

/// <summary>A drop site that is a consequence or a false positive rather than a cause.</summary>
public sealed record KnownPattern(string[] Functions, string[] Reasons, KernelRange Kernels, string Kind, string Explanation, string Source)
{
    public bool Matches(string function, string? reason, string? kernelRelease) =>
        Functions.Contains(function, StringComparer.Ordinal)
        && (Reasons.Length == 0 || Reasons.Contains(reason ?? "", StringComparer.Ordinal))
        && Kernels.Contains(kernelRelease);
}

/// <summary>The kernel knowledge DropBoard ships as data (Analysis/Knowledge/*.json), each row with its source.</summary>
public static class KernelKnowledge
{
    public static IReadOnlyList<CounterSource> CounterSources { get; } = Load("counter-sources", KnowledgeJson.Default.CounterSourceFile).Rows;

    public static IReadOnlyList<KnownPattern> Patterns { get; } = Load("known-patterns", KnowledgeJson.Default.PatternFile).Patterns;

    /// <summary>Every counter some row says drops feed: the counters that mean loss.</summary>
    public static IReadOnlySet<string> LossCounters { get; } = CounterSources.SelectMany(r => r.Counters).ToHashSet(StringComparer.Ordinal);

    private static T Load<T>(string name, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type)
    {
        using var stream = typeof(KernelKnowledge).Assembly.GetManifestResourceStream($"DropBoard.Knowledge.{name}.json")
            ?? throw new InvalidOperationException($"knowledge table {name}.json is not embedded");
        return JsonSerializer.Deserialize(stream, type) ?? throw new InvalidOperationException($"knowledge table {name}.json is empty");
    }
}

internal sealed record CounterSourceFile(CounterSource[] Rows);

internal sealed record PatternFile(KnownPattern[] Patterns);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(CounterSourceFile))]
[JsonSerializable(typeof(PatternFile))]
internal sealed partial class KnowledgeJson : JsonSerializerContext;
