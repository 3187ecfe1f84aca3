using DropBoard.Shared.Analysis;
using DropBoard.Web.Clock;
using Microsoft.AspNetCore.Components;

namespace DropBoard.Web.Components.Explain;

/// <summary>
/// The "Explain" panel of the live host view, the session detail and investigations: the verdict first (a headline,
/// one line per function that matters, what to do), then the evidence: which drops account for which counter, known
/// patterns, bursts as labelled lanes over a time axis, and the lead/lag matrix of the pairs with a loss site.
/// </summary>
public sealed partial class ExplainPanel : ComponentBase, IDisposable
{
    private const int MaxLanes = 8;
    private const int TickCount = 5;
    /// <summary>Fewer bursts than this on the leading side: a relation shown faint, whatever its ratio.</summary>
    private const int FewBursts = 3;

    [Inject] private ViewerClock Clock { get; set; } = default!;

    [Parameter, EditorRequired] public ExplainReport? Report { get; set; }
    [Parameter, EditorRequired] public long WindowStartMs { get; set; }
    [Parameter, EditorRequired] public long WindowEndMs { get; set; }

    /// <summary>What counters count, by name (netfilter rules' texts), shown under their names.</summary>
    [Parameter] public IReadOnlyDictionary<string, string>? CounterTexts { get; set; }

    private List<(string Function, List<Burst> Bursts)> Lanes { get; set; } = [];
    private LeadLagMatrix Matrix { get; set; } = LeadLagMatrix.Empty;
    /// <summary>What to do, once per advice, with the functions it is for.</summary>
    private List<VerdictAdvice> ToDo { get; set; } = [];
    /// <summary>The time axis under the lanes: (position 0–1000, instant).</summary>
    private List<(double At, long Ms)> Ticks { get; set; } = [];

    // The lanes' axis and titles are in the viewer's clock, which the browser names after the first render.
    protected override void OnInitialized() => Clock.Changed += Rerender;

    private void Rerender() => InvokeAsync(StateHasChanged);

    public void Dispose() => Clock.Changed -= Rerender;

    protected override void OnParametersSet()
    {
        Lanes = Report is null ? [] : Report.Bursts
            .GroupBy(b => b.Function)
            .OrderByDescending(g => g.Sum(b => b.Total))
            .Take(MaxLanes)
            .Select(g => (g.Key, g.OrderBy(b => b.StartMs).ToList()))
            .ToList();
        Matrix = Report is null ? LeadLagMatrix.Empty : LeadLagMatrix.From(Report.LeadLag, MaxLanes);
        ToDo = Report is null ? [] : VerdictText.Advice(Report.Verdicts);
        Ticks = Enumerable.Range(0, TickCount)
            .Select(i => (1000.0 * i / (TickCount - 1), WindowStartMs + Span * i / (TickCount - 1)))
            .ToList();
    }

    /// <summary>The verdict of a function, when it says more than "no counter" (a loss, a known pattern, a consequence).</summary>
    private SiteVerdict? Known(string function) =>
        Report?.Verdicts.FirstOrDefault(v => v.Subject == function && v.Kind is VerdictKind.NotLoss or VerdictKind.Consequence or VerdictKind.Loss);

    private static string KindClass(VerdictKind kind) => kind switch
    {
        VerdictKind.Loss or VerdictKind.Unexplained => "loss",
        VerdictKind.NotLoss => "not-loss",
        VerdictKind.Consequence => "consequence",
        _ => "other",
    };

    private static string Duration(long ms) => ms >= 1000 && ms % 1000 == 0 ? $"{ms / 1000} s" : $"{ms} ms";

    private static string Percent(double per1000) => (per1000 / 10).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture);

    private static bool Thin(LeadLagRelation r) => r.Bursts < FewBursts;

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
