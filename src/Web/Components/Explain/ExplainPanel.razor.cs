using DropBoard.Shared.Analysis;
using DropBoard.Web.Clock;
using Microsoft.AspNetCore.Components;

namespace DropBoard.Web.Components.Explain;

/// <summary>
/// The "Explain" panel of the live host view and the session detail: which drops account for which counter,
/// known patterns, bursts as lanes over the window, and the lead/lag matrix of the sites that burst.
/// </summary>
public sealed partial class ExplainPanel : ComponentBase
{
    private const int LaneHeight = 18;
    private const int MaxLanes = 8;

    [Inject] private ViewerClock Clock { get; set; } = default!;

    [Parameter, EditorRequired] public ExplainReport? Report { get; set; }
    [Parameter, EditorRequired] public long WindowStartMs { get; set; }
    [Parameter, EditorRequired] public long WindowEndMs { get; set; }

    /// <summary>What counters count, by name (netfilter rules' texts), shown under their names.</summary>
    [Parameter] public IReadOnlyDictionary<string, string>? CounterTexts { get; set; }

    private List<(string Function, List<Burst> Bursts)> Lanes { get; set; } = [];
    private LeadLagMatrix Matrix { get; set; } = LeadLagMatrix.Empty;

    protected override void OnParametersSet()
    {
        Lanes = Report is null ? [] : Report.Bursts
            .GroupBy(b => b.Function)
            .OrderByDescending(g => g.Sum(b => b.Total))
            .Take(MaxLanes)
            .Select(g => (g.Key, g.OrderBy(b => b.StartMs).ToList()))
            .ToList();
        Matrix = Report is null ? LeadLagMatrix.Empty : LeadLagMatrix.From(Report.LeadLag, MaxLanes);
    }

    /// <summary>The counters of a family explained together (rules, qdiscs), which the attribution names joined by " + ".</summary>
    private static string[] Members(string counter) => counter.Split(" + ");

    private double X(long ms) => 1000.0 * Math.Clamp(ms - WindowStartMs, 0, Span) / Span;

    private double Width(Burst b) => Math.Max(2, X(b.EndMs) - X(b.StartMs));

    private long Span => Math.Max(1, WindowEndMs - WindowStartMs);

    private static string Short(string function) => function.Length <= 18 ? function : function[..17] + "…";

    private static string Describe(LeadLagRelation? r) => r is null ? "" :
        $"{r.Leader} → {r.Follower}: {r.Followed} of {r.Bursts} bursts followed" +
        (r.MedianLagMs is { } lag ? $", median lag {lag:0} ms" : "") + $", {r.Coincident} coincident, p = {r.PValue:0.###} ({r.Kind})";
}
