using DropBoard.Web.Live;
using Microsoft.AspNetCore.Components;

namespace DropBoard.Web.Components.Live;

/// <summary>
/// Drops by kernel function, biggest first; a row opens to its offsets, reasons and protocols. Frees of sockets
/// that carry no network traffic (<see cref="NonNetworkFrees"/>) are behind a switch. Counts are exact: they are
/// read against counter rises.
/// </summary>
public sealed partial class DropSiteHistogram : ComponentBase
{
    [Parameter, EditorRequired] public IReadOnlyList<FunctionRow> Rows { get; set; } = [];
    [Parameter] public string Empty { get; set; } = "No drops in this window.";
    /// <summary>False when the drops have no duration to divide by (a capture without timestamps).</summary>
    [Parameter] public bool Rates { get; set; } = true;

    private readonly HashSet<string> _expanded = [];
    private bool _showNonNetwork;

    private IEnumerable<FunctionRow> Shown => _showNonNetwork ? Rows : Rows.Where(r => !NonNetworkFrees.Is(r.Function));

    /// <summary>The source names each drop's network namespace (bpf): the offsets table gets a namespace column.</summary>
    private bool Namespaced => Rows.Any(r => r.Sites.Any(s => s.Netns != 0));

    private int NonNetwork => Rows.Count(r => NonNetworkFrees.Is(r.Function));

    private void Toggle(string function)
    {
        if (!_expanded.Remove(function)) _expanded.Add(function);
    }

    private double BarWidth(long count) => Shown.FirstOrDefault() is { Count: > 0 } top ? Math.Max(1, 100.0 * count / top.Count) : 0;
}
