using DropBoard.Shared.Analysis;
using DropBoard.Web.Live;
using Microsoft.AspNetCore.Components;

namespace DropBoard.Web.Components.Pages;

/// <summary>
/// The live view: hosts, drops by site, counters and the explanation, refreshed from the live store.
/// Refreshes are coalesced to at most two a second, so a drop storm cannot flood the browser.
/// </summary>
public sealed partial class LiveDashboard : ComponentBase, IDisposable
{
    private static readonly TimeSpan RefreshEvery = TimeSpan.FromMilliseconds(500);

    [Inject] private LiveStore Store { get; set; } = null!;
    [Inject] private EmbeddedAgent EmbeddedAgent { get; set; } = null!;

    private CancellationTokenSource? _stop;
    private volatile bool _dirty = true;

    private IReadOnlyList<HostStatus>? Hosts { get; set; }
    private string? SelectedHost { get; set; }
    private int WindowSeconds { get; set; } = 60;
    private string SiteFilter { get; set; } = "";
    private string ReasonFilter { get; set; } = "";
    private bool Paused { get; set; }
    private List<FunctionRow> Rows { get; set; } = [];
    private List<string> Reasons { get; set; } = [];
    private List<Shared.Contracts.CounterDelta> Counters { get; set; } = [];
    private IReadOnlyList<string> Sentences { get; set; } = [];
    private HashSet<string> Expanded { get; } = [];
    private EmbeddedAgentStatus Agent => EmbeddedAgent.Status;
    private string WindowLabel => WindowSeconds >= 60 ? $"{WindowSeconds / 60} min" : $"{WindowSeconds} s";

    protected override void OnInitialized()
    {
        Refresh();
        Store.Changed += MarkDirty;
    }

    protected override void OnAfterRender(bool firstRender)
    {
        if (!firstRender) return;
        _stop = new CancellationTokenSource();
        _ = RefreshLoop(_stop.Token);
    }

    private void MarkDirty() => _dirty = true;

    private async Task RefreshLoop(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(RefreshEvery);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (!_dirty || Paused) continue;
                await InvokeAsync(() =>
                {
                    Refresh();
                    StateHasChanged();
                });
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private void Refresh()
    {
        _dirty = false;
        Hosts = Store.Hosts();
        if (SelectedHost is null || Hosts.All(h => h.HostId != SelectedHost))
            SelectedHost = Hosts.FirstOrDefault()?.HostId;
        if (SelectedHost is null) return;

        var window = TimeSpan.FromSeconds(WindowSeconds);
        var sites = Store.Sites(SelectedHost, window);
        Reasons = sites.Select(s => s.Reason ?? "-").Distinct().Order().ToList();
        Rows = LiveHistogram.ByFunction(sites, window, ReasonFilter, SiteFilter);
        Counters = Store.Counters(SelectedHost, window);
        var (drops, deltas) = Store.Window(SelectedHost, window);
        var hello = Store.Hello(SelectedHost);
        Sentences = Explainer.Explain(drops, deltas, new ExplainOptions { KernelRelease = hello?.KernelRelease, BucketMs = hello?.BucketMs ?? 10 }).Sentences;
    }

    private void Select(string hostId)
    {
        SelectedHost = hostId;
        Refresh();
    }

    private void Toggle(string function)
    {
        if (!Expanded.Remove(function)) Expanded.Add(function);
    }

    private void TogglePause()
    {
        Paused = !Paused;
        if (!Paused) Refresh();
    }

    private double BarWidth(long count) => Rows.Count == 0 ? 0 : Math.Max(1, 100.0 * count / Rows[0].Count);

    public void Dispose()
    {
        Store.Changed -= MarkDirty;
        _stop?.Cancel();
        _stop?.Dispose();
    }
}
