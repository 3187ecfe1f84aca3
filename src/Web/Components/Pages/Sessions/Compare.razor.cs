using DropBoard.Web.Live;
using DropBoard.Web.Sessions;
using Microsoft.AspNetCore.Components;

namespace DropBoard.Web.Components.Pages.Sessions;

/// <summary>Before and after: two sessions' sites and counters side by side, per second.</summary>
public sealed partial class Compare : ComponentBase
{
    [Inject] private SessionQueries Queries { get; set; } = null!;
    [Inject] private NavigationManager Navigation { get; set; } = null!;

    [SupplyParameterFromQuery(Name = "a")] public long A { get; set; }
    [SupplyParameterFromQuery(Name = "b")] public long B { get; set; }

    private IReadOnlyList<SessionInfo> All { get; set; } = [];
    private SessionComparisonResult? Result { get; set; }

    protected override void OnParametersSet()
    {
        All = Queries.List();
        Result = A > 0 && B > 0 ? SessionCompare.Run(Queries, A, B) : null;
    }

    private void Go() => Navigation.NavigateTo($"compare?a={A}&b={B}");

    private static string Rate(double perSecond) => LiveHistogram.Short(perSecond);

    private static string Signed(double value) => value >= 0 ? $"+{LiveHistogram.Short(value)}" : $"−{LiveHistogram.Short(-value)}";
}
