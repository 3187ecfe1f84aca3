using DropBoard.Web.Clock;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;

namespace DropBoard.Web.Components.Clock;

/// <summary>
/// Names the zone the page's times are in, with a switch to UTC; on a circuit's first page it asks the browser for
/// its zone (once: the clock is the circuit's).
/// </summary>
public sealed partial class ZoneSwitch : ComponentBase
{
    [Inject] private ViewerClock Clock { get; set; } = null!;
    [Inject] private IJSRuntime JS { get; set; } = null!;

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    protected override void OnInitialized() => Clock.Changed += Changed;

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        if (!firstRender || Clock.Known) return;
        try
        {
            await using var module = await JS.InvokeAsync<IJSObjectReference>("import", "./Components/Clock/ZoneSwitch.razor.js");
            Clock.SetBrowserZone(await module.InvokeAsync<string?>("zone"));
        }
        catch (JSDisconnectedException)
        {
            // The browser left.
        }
        catch (JSException)
        {
            // A browser without Intl time zones: times stay in UTC, and say so.
            Clock.SetBrowserZone(null);
        }
    }

    private void Changed() => InvokeAsync(StateHasChanged);

    public void Dispose() => Clock.Changed -= Changed;
}
