using DropBoard.Web.Components.Live;
using DropBoard.Web.Live;
using Microsoft.AspNetCore.Components;

using DropBoard.Web.Views;

namespace DropBoard.Web.Components.Pages;

/// <summary>One host live: histogram, drops and counters over time, explanation; filters and pause.</summary>
public sealed partial class HostLive : ComponentBase, IDisposable
{
    [Inject] private LiveStore Store { get; set; } = null!;

    [Parameter] public string HostId { get; set; } = "";

    private HostLiveView View { get; set; } = null!;
    private LiveRefresh? _refresh;
    private string SiteFilter { get; set; } = "";
    private string ReasonFilter { get; set; } = "";
    private string ProtocolFilter { get; set; } = "";
    private bool Paused => _refresh?.Paused ?? false;

    protected override void OnInitialized() => View = new HostLiveView(Store);

    protected override void OnParametersSet()
    {
        View.HostId = HostId;
        Refresh();
    }

    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
            _refresh = new LiveRefresh(Store, () => InvokeAsync(() => { Refresh(); StateHasChanged(); }), TimeSpan.FromMilliseconds(500));
    }

    private void Refresh()
    {
        View.Filter = new DropFilter(SiteFilter, ReasonFilter, ProtocolFilter);
        View.Refresh();
    }

    private void TogglePause()
    {
        if (_refresh is null) return;
        _refresh.Paused = !_refresh.Paused;
        if (!_refresh.Paused) Refresh();
    }

    public void Dispose() => _refresh?.Dispose();
}
