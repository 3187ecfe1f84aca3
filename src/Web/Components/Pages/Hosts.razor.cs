using DropBoard.Web.Components.Refresh;
using DropBoard.Web.Live;
using Microsoft.AspNetCore.Components;

namespace DropBoard.Web.Components.Pages;

/// <summary>Every host, its drop rate, top drop sites and connection state, refreshed live.</summary>
public sealed partial class Hosts : ComponentBase, IDisposable
{
    [Inject] private LiveStore Store { get; set; } = null!;
    [Inject] private EmbeddedAgent EmbeddedAgent { get; set; } = null!;

    private StoreRefresh? _refresh;

    private IReadOnlyList<HostStatus>? List { get; set; }
    private EmbeddedAgentStatus Agent => EmbeddedAgent.Status;

    protected override void OnInitialized() => List = Store.Hosts();

    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
            _refresh = new StoreRefresh(Store, _ => true, () => InvokeAsync(() => { List = Store.Hosts(); StateHasChanged(); }), TimeSpan.FromSeconds(1));
    }

    private static string Seen(HostStatus host) => host.LastBatch is { } last
        ? $"last batch {Math.Max(0, (DateTimeOffset.UtcNow - last).TotalSeconds):0} s ago"
        : "";

    public void Dispose() => _refresh?.Dispose();
}
