using DropBoard.Web.Live;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;

namespace DropBoard.Web.Components.Charts;

/// <summary>
/// A time-series chart (ApexCharts through JS interop). The chart is created once; later renders with new
/// <see cref="Data"/> update its series in place.
/// </summary>
public sealed partial class TimeSeriesChart : ComponentBase, IAsyncDisposable
{
    [Inject] private IJSRuntime JS { get; set; } = null!;

    [Parameter, EditorRequired] public string Title { get; set; } = "";
    [Parameter, EditorRequired] public TimeSeries Data { get; set; } = new([], []);
    [Parameter] public string Kind { get; set; } = "area";
    [Parameter] public bool Stacked { get; set; }
    [Parameter] public string YTitle { get; set; } = "";
    [Parameter] public int Height { get; set; } = 240;
    /// <summary>Recorded data can be zoomed; a live chart would lose the zoom at its next update.</summary>
    [Parameter] public bool Zoom { get; set; }
    [Parameter] public string Empty { get; set; } = "No data in this window";

    private ElementReference _element;
    private IJSObjectReference? _module;
    private TimeSeries? _shown;

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        try
        {
            if (firstRender)
            {
                _module = await JS.InvokeAsync<IJSObjectReference>("import", "./Components/Charts/TimeSeriesChart.razor.js");
                await _module.InvokeVoidAsync("render", _element,
                    new { kind = Kind, stacked = Stacked, yTitle = YTitle, height = Height, zoom = Zoom, empty = Empty }, ToApex(Data));
                _shown = Data;
            }
            else if (_module is not null && !ReferenceEquals(_shown, Data))
            {
                _shown = Data;
                await _module.InvokeVoidAsync("update", _element, ToApex(Data));
            }
        }
        catch (JSDisconnectedException)
        {
            // The browser left; nothing to draw on.
        }
    }

    // ApexCharts wants [{name, data: [[ms, y], ...]}]; x in browser-local time is done by the chart.
    private static object[] ToApex(TimeSeries data) =>
        data.Series.Select(s => (object)new
        {
            name = s.Name,
            data = data.Seconds.Select((second, i) => new[] { second * 1000, s.Values[i] }).ToArray(),
        }).ToArray();

    public async ValueTask DisposeAsync()
    {
        if (_module is null) return;
        try
        {
            await _module.InvokeVoidAsync("destroy", _element);
            await _module.DisposeAsync();
        }
        catch (JSDisconnectedException)
        {
        }
    }
}
