using DropBoard.Web.Clock;
using DropBoard.Web.Views;
using Microsoft.AspNetCore.Components;
using Microsoft.JSInterop;

namespace DropBoard.Web.Components.Charts;

/// <summary>
/// A time-series chart (ApexCharts through JS interop). The chart is created once; later renders with new
/// <see cref="Data"/> update its series in place, sending only the points that changed when the window only slid on
/// (a live page's refresh: a few seconds gone at the start, the last ones new or grown). Times are the viewer's (or UTC, by the page's switch), the axis
/// spans the window shown (a one-bucket session is not drawn over days) and its title names the date and zone.
/// </summary>
public sealed partial class TimeSeriesChart : ComponentBase, IAsyncDisposable
{
    /// <summary>The narrowest axis drawn: a second of data still reads as a second, not as a bar across the chart.</summary>
    private const long MinSpanMs = 10_000;

    [Inject] private IJSRuntime JS { get; set; } = null!;
    [Inject] private ViewerClock Clock { get; set; } = null!;

    [Parameter, EditorRequired] public string Title { get; set; } = "";
    [Parameter, EditorRequired] public TimeSeries Data { get; set; } = new([], []);
    [Parameter] public string Kind { get; set; } = "area";
    [Parameter] public bool Stacked { get; set; }
    [Parameter] public string YTitle { get; set; } = "";
    [Parameter] public int Height { get; set; } = 240;
    /// <summary>Recorded data can be zoomed; a live chart would lose the zoom at its next update.</summary>
    [Parameter] public bool Zoom { get; set; }
    [Parameter] public string Empty { get; set; } = "No data in this window";
    /// <summary>
    /// Charts of one group share a crosshair: hovering one shows the same instant on the others that span the same
    /// window (ApexCharts' <c>chart.group</c>). Every chart of a page is in one by default; null for a chart of its own.
    /// </summary>
    [Parameter] public string? Group { get; set; } = "page";
    /// <summary>The window the chart shows (Unix ms), when the page knows it; else the data's own span.</summary>
    [Parameter] public long? FromMs { get; set; }
    [Parameter] public long? ToMs { get; set; }

    private ElementReference _element;
    private IJSObjectReference? _module;
    private TimeSeries? _shown;
    private object? _axis;

    protected override void OnInitialized() => Clock.Changed += ClockChanged;

    private void ClockChanged() => InvokeAsync(async () =>
    {
        if (_module is null) return;
        try
        {
            await _module.InvokeVoidAsync("axis", _element, _axis = Axis());
        }
        catch (JSDisconnectedException)
        {
        }
    });

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        try
        {
            if (firstRender)
            {
                _module = await JS.InvokeAsync<IJSObjectReference>("import", "./Components/Charts/TimeSeriesChart.razor.js");
                // What the chart shows is noted before each call: a render that starts while one is under way diffs
                // against it, and the browser takes the calls in the order they were made.
                _shown = Data;
                await _module.InvokeVoidAsync("render", _element,
                    new { kind = Kind, stacked = Stacked, yTitle = YTitle, height = Height, zoom = Zoom, empty = Empty, group = Group }, ToApex(Data), _axis = Axis());
            }
            else if (_module is not null && _shown is not null && !ReferenceEquals(_shown, Data))
            {
                var axis = Axis();
                var change = Change(_shown, Data);
                var newAxis = Equals(axis, _axis) ? null : axis;
                (_shown, _axis) = (Data, axis);
                if (change is not null) await _module.InvokeVoidAsync("append", _element, change, newAxis);
                else await _module.InvokeVoidAsync("update", _element, ToApex(Data), newAxis);
            }
        }
        catch (JSDisconnectedException)
        {
            // The browser left; nothing to draw on.
        }
    }

    /// <summary>The x axis: the window (at least <see cref="MinSpanMs"/> wide), UTC or the browser's zone, and the date(s) and zone as its title.</summary>
    private object Axis()
    {
        var from = FromMs ?? (Data.Seconds.Length == 0 ? (long?)null : Data.Seconds[0] * 1000);
        var to = ToMs ?? (Data.Seconds.Length == 0 ? (long?)null : (Data.Seconds[^1] + 1) * 1000);
        if (from is { } f && to is { } t && t - f < MinSpanMs) (from, to) = (f - (MinSpanMs - (t - f)) / 2, f - (MinSpanMs - (t - f)) / 2 + MinSpanMs);
        var title = from is { } a && to is { } b
            ? $"{Day(a)}{(Day(a) == Day(b - 1) ? "" : $" – {Day(b - 1)}")}, {Clock.ZoneName(a)}"
            : Clock.ZoneName(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        return new AxisOptions(from, to, Clock.Zone == TimeZoneInfo.Utc, title);
    }

    private string Day(long ms) => Clock.Format(ms, TimeStyle.Minute)[..10];

    private sealed record AxisOptions(long? Min, long? Max, bool Utc, string Title);

    /// <summary>
    /// The same series over consecutive seconds, slid by <c>drop</c> seconds: the points from index <c>from</c> on (of
    /// the new data), which replace the chart's from there. Null when the series or their seconds are not comparable.
    /// </summary>
    private static object? Change(TimeSeries shown, TimeSeries data)
    {
        if (!Consecutive(shown) || !Consecutive(data) || shown.Series.Count != data.Series.Count) return null;
        for (var s = 0; s < data.Series.Count; s++)
            if (shown.Series[s].Name != data.Series[s].Name) return null;
        var drop = data.Seconds[0] - shown.Seconds[0];
        if (drop < 0 || drop > shown.Seconds.Length) return null;
        var overlap = (int)Math.Min(shown.Seconds.Length - drop, data.Seconds.Length);
        var from = 0;
        while (from < overlap && data.Series.Select((s, i) => s.Values[from] == shown.Series[i].Values[from + drop]).All(same => same)) from++;
        return new
        {
            drop,
            from,
            points = data.Series.Select(s => s.Values.Skip(from).Select((v, i) => new[] { data.Seconds[from + i] * 1000, v }).ToArray()).ToArray(),
        };
    }

    private static bool Consecutive(TimeSeries data) =>
        data.Seconds.Length > 0 && data.Seconds[^1] - data.Seconds[0] == data.Seconds.Length - 1;

    // ApexCharts wants [{name, data: [[ms, y], ...]}]; x in the browser's zone or UTC is done by the chart.
    private static object[] ToApex(TimeSeries data) =>
        data.Series.Select(s => (object)new
        {
            name = s.Name,
            color = FunctionColours.Of(s.Name),
            data = data.Seconds.Select((second, i) => new[] { second * 1000, s.Values[i] }).ToArray(),
        }).ToArray();

    public async ValueTask DisposeAsync()
    {
        Clock.Changed -= ClockChanged;
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
