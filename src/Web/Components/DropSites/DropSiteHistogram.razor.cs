using DropBoard.Shared.Analysis;
using DropBoard.Web.Live;
using DropBoard.Web.Views;
using Microsoft.AspNetCore.Components;

namespace DropBoard.Web.Components.DropSites;

/// <summary>
/// Drops by kernel function, biggest first; a row opens to its offsets, reasons and protocols. Frees of sockets
/// that carry no network traffic (<see cref="NonNetworkFrees"/>) are behind a switch, which changes the page's view
/// request (so the chart and Explain follow it too). Counts are exact: they are read against counter rises.
/// </summary>
public sealed partial class DropSiteHistogram : ComponentBase
{
    [Parameter, EditorRequired] public IReadOnlyList<FunctionRow> Rows { get; set; } = [];
    [Parameter] public string Empty { get; set; } = "No drops in this window.";
    /// <summary>False when the drops have no duration to divide by (a capture without timestamps).</summary>
    [Parameter] public bool Rates { get; set; } = true;
    /// <summary>Explain's verdict of the same view: a function that is a loss, no loss on this kernel, or a consequence says so.</summary>
    [Parameter] public IReadOnlyList<SiteVerdict>? Verdicts { get; set; }

    /// <summary>Non-network functions the view left out: the switch that brings them in says how many.</summary>
    [Parameter] public int HiddenNonNetwork { get; set; }
    [Parameter] public bool NonNetworkShown { get; set; }
    [Parameter] public EventCallback<bool> NonNetworkShownChanged { get; set; }

    private readonly HashSet<string> _expanded = [];

    /// <summary>The source names each drop's network namespace (bpf): the offsets table gets a namespace column.</summary>
    private bool Namespaced => Rows.Any(r => r.Sites.Any(s => s.Netns != 0));

    private int NonNetwork => NonNetworkShown ? Rows.Count(r => NonNetworkFrees.Is(r.Function)) : HiddenNonNetwork;

    private (string Text, string Css, string Title)? Badge(string function) =>
        Verdicts?.FirstOrDefault(v => v.Subject == function) is { Kind: VerdictKind.Loss or VerdictKind.NotLoss or VerdictKind.Consequence } v
            // Short here (the name column is narrow); the whole verdict is the badge's title.
            ? v.Kind switch
            {
                VerdictKind.Loss => ("loss", "loss", $"{v.Badge}: {v.Line}"),
                VerdictKind.NotLoss => ("not a loss", "not-loss", $"{v.Badge}: {v.Line}"),
                _ => ("consequence", "consequence", $"{v.Badge}: {v.Line}"),
            }
            : null;

    private void Toggle(string function)
    {
        if (!_expanded.Remove(function)) _expanded.Add(function);
    }

    private double BarWidth(long count) => Rows.FirstOrDefault() is { Count: > 0 } top ? Math.Max(1, 100.0 * count / top.Count) : 0;
}
