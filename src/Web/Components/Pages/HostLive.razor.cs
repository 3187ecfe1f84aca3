using DropBoard.Shared.Contracts;
using DropBoard.Web.Components.Refresh;
using DropBoard.Web.Live;
using Microsoft.AspNetCore.Components;

using DropBoard.Web.Views;

namespace DropBoard.Web.Components.Pages;

/// <summary>
/// One host live: histogram, drops and counters over time, explanation; filters and pause. Filters and window live
/// in the URL (<c>?site=&amp;reason=&amp;protocol=&amp;netns=&amp;nonnetwork=&amp;window=</c>), so a reload or a copied link
/// shows the same view; every panel reads the one filter.
/// </summary>
public sealed partial class HostLive : ComponentBase, IDisposable
{
    [Inject] private LiveStore Store { get; set; } = null!;
    [Inject] private LiveFlows FlowStore { get; set; } = null!;
    [Inject] private LivePaths PathStore { get; set; } = null!;
    [Inject] private NavigationManager Navigation { get; set; } = null!;

    [Parameter] public string HostId { get; set; } = "";
    [SupplyParameterFromQuery(Name = "site")] public string? Site { get; set; }
    [SupplyParameterFromQuery(Name = "reason")] public string? Reason { get; set; }
    [SupplyParameterFromQuery(Name = "protocol")] public string? Protocol { get; set; }
    [SupplyParameterFromQuery(Name = "netns")] public string? Netns { get; set; }
    [SupplyParameterFromQuery(Name = "window")] public int? WindowQuery { get; set; }
    [SupplyParameterFromQuery(Name = "nonnetwork")] public bool? NonNetworkQuery { get; set; }

    private HostLiveView View { get; set; } = null!;
    private LiveFlows.Window Flows { get; set; } = LiveFlows.Window.Empty;
    private IReadOnlyList<PathSite> Paths { get; set; } = [];
    private StoreRefresh? _refresh;
    private string SiteFilter { get; set; } = "";
    private string ReasonFilter { get; set; } = "";
    private string ProtocolFilter { get; set; } = "";
    private string NetnsFilter { get; set; } = "";
    private bool NonNetworkShown { get; set; }
    private bool Paused => _refresh?.Paused ?? false;

    protected override void OnInitialized() => View = new HostLiveView(Store);

    protected override void OnParametersSet()
    {
        View.HostId = HostId;
        (SiteFilter, ReasonFilter, ProtocolFilter, NetnsFilter) =
            (ViewFilters.Bounded(Site), ViewFilters.Bounded(Reason), ViewFilters.Bounded(Protocol), ViewFilters.Bounded(Netns));
        NonNetworkShown = NonNetworkQuery ?? false;
        View.WindowSeconds = WindowQuery is { } w && HostLiveView.Windows.Contains(w) ? w : HostLiveView.Windows[0];
        Refresh();
    }

    // A filter or window changed: into the URL (replacing, not adding to history); the URL sets the parameters back.
    private void Apply() => Navigation.NavigateTo(Navigation.GetUriWithQueryParameters(new Dictionary<string, object?>
    {
        ["site"] = ViewFilters.Blank(SiteFilter), ["reason"] = ViewFilters.Blank(ReasonFilter), ["protocol"] = ViewFilters.Blank(ProtocolFilter),
        ["netns"] = ViewFilters.Blank(NetnsFilter),
        ["window"] = View.WindowSeconds == HostLiveView.Windows[0] ? null : View.WindowSeconds,
        ["nonnetwork"] = NonNetworkShown ? "true" : null,
    }), replace: true);

    private void ShowNonNetwork(bool shown)
    {
        NonNetworkShown = shown;
        Apply();
    }

    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
            _refresh = new StoreRefresh(Store, host => host == HostId, () => InvokeAsync(() => { Refresh(); StateHasChanged(); }), TimeSpan.FromMilliseconds(250));
    }

    private void Refresh()
    {
        View.Filter = new DropFilter(SiteFilter, ReasonFilter, ProtocolFilter, NonNetworkShown, NetnsFilter);
        View.Refresh();
        var window = TimeSpan.FromSeconds(View.WindowSeconds);
        uint? netns = uint.TryParse(NetnsFilter, out var chosen) ? chosen : null;
        Flows = FlowStore.Top(HostId, window, netns);
        Paths = PathStore.Top(HostId, window, netns);
    }

    private void TogglePause()
    {
        if (_refresh is null) return;
        _refresh.Paused = !_refresh.Paused;
        if (!_refresh.Paused) Refresh();
    }

    public void Dispose() => _refresh?.Dispose();

    /// <summary>How many drop records the kernel could not hand over, and what the agent says to raise (its setting and value now).</summary>
    private static string LostRecords(HostStatus host) =>
        $"{host.LostRecords:N0} drop records lost by the kernel: drop counts are low{(host.LostRecordsFix is { } fix ? $"; {fix}" : "")}";
}
