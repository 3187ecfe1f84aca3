using DropBoard.Web.Views;
using DropBoard.Web.Sessions;
using Microsoft.AspNetCore.Components;

namespace DropBoard.Web.Components.Pages.Sessions;

/// <summary>Before and after: two sessions' functions (offsets nested, renames paired) and counters side by side.</summary>
public sealed partial class Compare : ComponentBase
{
    [Inject] private SessionQueries Queries { get; set; } = null!;
    [Inject] private NavigationManager Navigation { get; set; } = null!;

    [SupplyParameterFromQuery(Name = "a")] public long A { get; set; }
    [SupplyParameterFromQuery(Name = "b")] public long B { get; set; }

    private IReadOnlyList<SessionInfo> All { get; set; } = [];
    private SessionComparisonResult? Result { get; set; }
    private string? Problem { get; set; }

    protected override void OnParametersSet()
    {
        All = Queries.List();
        (Result, Problem) = (null, null);
        if (A <= 0 || B <= 0) return;
        try
        {
            Result = SessionCompare.Run(Queries, A, B);
        }
        catch (CompareException e)
        {
            Problem = e.Message;
        }
    }

    private void Go() => Navigation.NavigateTo($"compare?a={A}&b={B}");

    private static string Rate(double? perSecond) => perSecond is { } r ? NumberText.Short(r) : "—";

    private static string Signed(double value) => value >= 0 ? $"+{NumberText.Short(value)}" : $"−{NumberText.Short(-value)}";

    // A perf capture of a few packets can last milliseconds.
    private static string Length(double seconds) => seconds >= 10 ? $"{seconds:0} s" : seconds >= 1 ? $"{seconds:0.#} s" : $"{seconds * 1000:0.#} ms";

    // A counter a side did not record is not a rise of zero.
    private static string Delta(long? delta) => delta is { } d ? $"+{d:N0}" : "not recorded";

    private static string Offset(OffsetComparison o) => (o.SiteA, o.SiteB) switch
    {
        ({ } a, { } b) when a == b => $"{a}{Reasons(o)}",
        ({ } a, { } b) => $"{a} ↔ {b}{Reasons(o)}",
        ({ } a, null) => $"{a}{Reasons(o)} (only in A)",
        (_, var b) => $"{b}{Reasons(o)} (only in B)",
    };

    private static string Reasons(OffsetComparison o) => (o.SiteA, o.SiteB) switch
    {
        (not null, not null) when o.ReasonA != o.ReasonB => $" [{o.ReasonA ?? "no reason"} ↔ {o.ReasonB ?? "no reason"}]",
        _ => (o.ReasonA ?? o.ReasonB) is { } reason ? $" [{reason}]" : "",
    };
}
