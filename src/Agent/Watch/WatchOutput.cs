using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Watch;

/// <summary>What <c>dropboard-agent watch</c> prints: dropwatch-style lines, or one JSON object per line.</summary>
public static class WatchOutput
{
    // Sites contain '+': keep JSON lines readable ("udp_queue_rcv_one_skb+0x437", not "\u002B").
    private static readonly WatchJson Json = new(new JsonSerializerOptions(WatchJson.Default.Options)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    });

    /// <param name="lostFix">The setting to raise when records are lost (<see cref="Capture.IDropSource.LostRecordsFix"/>).</param>
    public static IEnumerable<string> IntervalLines(WatchTotals interval, bool json, string? lostFix = null)
    {
        foreach (var d in interval.Drops)
            yield return json
                ? JsonSerializer.Serialize(new DropLine("drop", d.Function, d.Site, d.Reason, d.Count, d.Netns, d.NetnsName), Json.DropLine)
                : $"{d.Count} drops at {d.Site}{(d.Reason is null ? "" : $" [{d.Reason}]")}{In(d.Netns, d.NetnsName)}";
        foreach (var c in interval.Counters)
            yield return json
                ? JsonSerializer.Serialize(new CounterLine("counter", c.Name, c.Delta, c.Netns, c.NetnsName), Json.CounterLine)
                : $"{c.Name} +{c.Delta}{In(c.Netns, c.NetnsName)}";
        foreach (var f in interval.Frees)
            yield return json
                ? JsonSerializer.Serialize(new FreeLine("free", f.Function, f.Site, f.Count), Json.FreeLine)
                : $"{f.Count} normal frees at {f.Site} (consume_skb, not drops)";
        foreach (var f in interval.Flows)
            yield return json
                ? JsonSerializer.Serialize(new FlowLine("flows", f.Function, f.Site, f.Sampled, f.NotSampled, [.. f.Top], f.Netns, f.NetnsName), Json.FlowLine)
                : FlowText(f);
        foreach (var p in interval.Paths)
            yield return json
                ? JsonSerializer.Serialize(new PathLine("paths", p.Function, p.Site, p.Drops, [.. p.Top.Take(1)], p.Drops - p.Top.Take(1).Sum(t => t.Drops), p.Netns, p.NetnsName), Json.PathLine)
                : PathText(p);
        if (interval.LostRecords > 0)
            yield return json
                ? JsonSerializer.Serialize(new LostLine("lost", interval.LostRecords, lostFix), Json.LostLine)
                : $"{interval.LostRecords} drop records lost by the kernel (ring overflow): counts above are low{(lostFix is null ? "" : $"; {lostFix}")}";
    }

    /// <summary>The run's drops and counter rises explained as the dashboard explains a window: the verdict the summary ends with.</summary>
    public static ExplainReport Explain(WatchTotals total, string? kernelRelease, int bucketMs) =>
        Explainer.Explain(total.Buckets, total.Deltas, new ExplainOptions { KernelRelease = kernelRelease, BucketMs = bucketMs });

    /// <param name="time">Writes a verdict's "since" instant; the terminal's local clock when not given.</param>
    public static string Summary(WatchTotals total, string source, ExplainReport explain, bool json, Func<long, string>? time = null)
    {
        var relations = explain.LeadLag.Where(r => r.Kind != LeadLagKind.None).Take(5).ToArray();
        if (json)
            return JsonSerializer.Serialize(
                new SummaryLine("summary", source, total.LostRecords, [.. total.Drops], [.. total.Counters], [.. explain.Attribution], relations, [.. total.Frees],
                    [.. total.Flows], [.. total.Paths], explain.Headline, [.. explain.Verdicts.Select(v => VerdictLine.Of(v, explain.Attribution))],
                    [.. VerdictText.Advice(explain.Verdicts)]),
                Json.SummaryLine);

        var text = new StringBuilder();
        text.AppendLine($"Summary (source: {source}, lost records: {total.LostRecords})");
        var drops = total.Drops.ToList();
        if (drops.Count == 0)
            text.AppendLine("  no drops");
        else
        {
            var siteWidth = Math.Max(4, drops.Max(d => d.Site.Length));
            text.AppendLine($"  {"drops",10}  {"site".PadRight(siteWidth)}  reason");
            foreach (var d in drops)
                text.AppendLine($"  {d.Count,10}  {d.Site.PadRight(siteWidth)}  {d.Reason ?? "-"}{In(d.Netns, d.NetnsName)}");
        }
        var frees = total.Frees.ToList();
        if (frees.Count > 0)
        {
            text.AppendLine($"  {"frees",10}  normal frees (skb:consume_skb), not drops");
            foreach (var f in frees.Take(10))
                text.AppendLine($"  {f.Count,10}  {f.Site}");
        }
        foreach (var f in total.Flows.Take(10))
            text.AppendLine($"  {FlowText(f)}");
        foreach (var p in total.Paths.Take(10))
            text.AppendLine($"  {PathText(p)}");
        var counters = total.Counters.ToList();
        if (counters.Count > 0)
        {
            var nameWidth = counters.Max(c => c.Name.Length);
            text.AppendLine($"  {"delta",10}  counter");
            foreach (var c in counters)
                text.AppendLine($"  {"+" + c.Delta,10}  {c.Name.PadRight(nameWidth)}{(c.Text is null ? "" : $"  {c.Text}")}{In(c.Netns, c.NetnsName)}");
        }
        foreach (var line in VerdictText.Lines(explain, time ?? LocalTime)) text.AppendLine(line);
        return text.ToString().TrimEnd();
    }

    /// <summary>A site's sampled flows in one line, the drops not sampled always said.</summary>
    private static string FlowText(FlowSite f)
    {
        var top = string.Join(", ", f.Top.Take(3).Select(t => $"{Shared.Flows.FlowText.Of(t)} x{t.Count}"));
        return $"flows at {f.Site}{In(f.Netns, f.NetnsName)}: {f.Sampled} drops sampled, {f.NotSampled} not sampled (rate cap --flows){(top.Length == 0 ? "" : $"; top: {top}")}";
    }

    /// <summary>A site's top path in one line, innermost frame first ("a &lt; b": a was called from b), with the drops it accounts for.</summary>
    private static string PathText(PathSite p)
    {
        var top = p.Top.Count == 0 ? "" : p.Top[0] switch
        {
            { Missing: { } why } path => $"; top path: {path.Drops} drops with no stack ({why})",
            var path => $"; top path: {path.Drops} drops via {string.Join(" < ", path.Frames)}",
        };
        return $"paths to {p.Site}{In(p.Netns, p.NetnsName)}: {p.Drops} drops{top}";
    }

    private static string LocalTime(long ms) =>
        DateTimeOffset.FromUnixTimeMilliseconds(ms).ToLocalTime().ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Which network namespace, when the source says (bpf).</summary>
    private static string In(uint netns, string? name) => netns == 0 ? "" : $" in netns {name ?? netns.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
}

public sealed record DropLine(string Type, string Function, string Site, string? Reason, long Count,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NetnsName = null);
public sealed record CounterLine(string Type, string Name, long Delta,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NetnsName = null);
public sealed record LostLine(string Type, long Lost, string? Fix);
public sealed record FreeLine(string Type, string Function, string Site, long Count);
/// <summary>A site's sampled flows in an interval: the drops sampled, those not (over the rate cap), and the top flows.</summary>
public sealed record FlowLine(string Type, string Function, string Site, long Sampled, long NotSampled, DroppedFlow[] Top,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NetnsName = null);
/// <summary>A site's top path in an interval (bpf with --stacks): the site's drops, the path most of them took, and the drops on other paths.</summary>
public sealed record PathLine(string Type, string Function, string Site, long Drops, StackPath[] Top, long Other,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NetnsName = null);
/// <param name="Flows">Sampled flows per site (bpf with --flows), the drops not sampled said.</param>
/// <param name="Paths">The kernel stacks to each site (bpf with --stacks), the top paths with the drops each accounts for.</param>
/// <param name="Headline">The verdict in one sentence (null: nothing to explain).</param>
/// <param name="Verdicts">One line per function that matters, with the counters that count its drops.</param>
/// <param name="WhatToDo">Each advice once, with the functions it is for.</param>
public sealed record SummaryLine(
    string Type, string Source, long Lost, DropTotal[] Drops, CounterTotal[] Counters, CounterAttribution[] Attribution, LeadLagRelation[] LeadLag,
    FreeTotal[] Frees, FlowSite[] Flows, PathSite[] Paths, string? Headline, VerdictLine[] Verdicts, VerdictAdvice[] WhatToDo);

/// <summary>A verdict line as fields: what it is about, its kind and count, and (a loss, a rise nothing explains) the counters it names.</summary>
public sealed record VerdictLine(VerdictKind Kind, string Subject, long Drops, string Badge, string Line, long? FirstMs, string? WhatToDo,
    VerdictCounter[] Counters)
{
    public static VerdictLine Of(SiteVerdict v, IReadOnlyList<CounterAttribution> attribution) =>
        new(v.Kind, v.Subject, v.Drops, v.Badge, v.Line, v.FirstMs, v.WhatToDo, v.Kind switch
        {
            VerdictKind.Loss => [.. attribution.Where(a => a.Delta > 0 && a.Sites.Any(s => s.Function == v.Subject)).Select(VerdictCounter.Of)],
            VerdictKind.Unexplained => [.. attribution.Where(a => a.Named == v.Subject).Select(VerdictCounter.Of)],
            _ => [],
        });
}

/// <summary>A counter a verdict names: how much it rose and how many of the drops at the line's function explain it.</summary>
public sealed record VerdictCounter(string Name, long Delta, long Explained, AttributionMatch Match,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0)
{
    public static VerdictCounter Of(CounterAttribution a) => new(a.Counter, a.Delta, a.Explained, a.Match, a.Netns);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(DropLine))]
[JsonSerializable(typeof(CounterLine))]
[JsonSerializable(typeof(LostLine))]
[JsonSerializable(typeof(FreeLine))]
[JsonSerializable(typeof(FlowLine))]
[JsonSerializable(typeof(PathLine))]
[JsonSerializable(typeof(SummaryLine))]
internal sealed partial class WatchJson : JsonSerializerContext;
