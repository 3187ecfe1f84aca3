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
        if (interval.LostRecords > 0)
            yield return json
                ? JsonSerializer.Serialize(new LostLine("lost", interval.LostRecords, lostFix), Json.LostLine)
                : $"{interval.LostRecords} drop records lost by the kernel (ring overflow): counts above are low{(lostFix is null ? "" : $"; {lostFix}")}";
    }

    public static string Summary(WatchTotals total, string source, ExplainReport explain, bool json)
    {
        var relations = explain.LeadLag.Where(r => r.Kind != LeadLagKind.None).Take(5).ToArray();
        if (json)
            return JsonSerializer.Serialize(
                new SummaryLine("summary", source, total.LostRecords, [.. total.Drops], [.. total.Counters], [.. explain.Attribution], relations, [.. total.Frees],
                    [.. total.Flows]),
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
        var counters = total.Counters.ToList();
        if (counters.Count > 0)
        {
            var nameWidth = counters.Max(c => c.Name.Length);
            text.AppendLine($"  {"delta",10}  counter");
            foreach (var c in counters)
                text.AppendLine($"  {"+" + c.Delta,10}  {c.Name.PadRight(nameWidth)}{(c.Text is null ? "" : $"  {c.Text}")}{In(c.Netns, c.NetnsName)}");
        }
        if (explain.Sentences.Count > 0)
        {
            text.AppendLine("Explained:");
            foreach (var sentence in explain.Sentences) text.AppendLine($"  - {sentence}");
        }
        return text.ToString().TrimEnd();
    }

    /// <summary>A site's sampled flows in one line, the drops not sampled always said.</summary>
    private static string FlowText(FlowSite f)
    {
        var top = string.Join(", ", f.Top.Take(3).Select(t => $"{Shared.Flows.FlowText.Of(t)} x{t.Count}"));
        return $"flows at {f.Site}{In(f.Netns, f.NetnsName)}: {f.Sampled} drops sampled, {f.NotSampled} not sampled (rate cap --flows){(top.Length == 0 ? "" : $"; top: {top}")}";
    }

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
public sealed record SummaryLine(
    string Type, string Source, long Lost, DropTotal[] Drops, CounterTotal[] Counters, CounterAttribution[] Attribution, LeadLagRelation[] LeadLag,
    FreeTotal[] Frees, FlowSite[] Flows);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, UseStringEnumConverter = true)]
[JsonSerializable(typeof(DropLine))]
[JsonSerializable(typeof(CounterLine))]
[JsonSerializable(typeof(LostLine))]
[JsonSerializable(typeof(FreeLine))]
[JsonSerializable(typeof(FlowLine))]
[JsonSerializable(typeof(SummaryLine))]
internal sealed partial class WatchJson : JsonSerializerContext;
