namespace DropBoard.Web.Clock;

/// <summary>
/// The viewer's clock for one circuit: the browser's time zone, read once (<see cref="Components.Clock.ZoneSwitch"/>),
/// and the viewer's switch to UTC. Until the browser has said, times are in UTC and say so. Times and charts re-render
/// on <see cref="Changed"/>.
/// </summary>
public sealed class ViewerClock
{
    private TimeZoneInfo _browser = TimeZoneInfo.Utc;

    /// <summary>The browser has told its zone (or could not).</summary>
    public bool Known { get; private set; }
    public bool Utc { get; private set; }
    public TimeZoneInfo Zone => Utc ? TimeZoneInfo.Utc : _browser;

    public event Action? Changed;

    public void SetBrowserZone(string? id)
    {
        _browser = TimeText.Zone(id) ?? TimeZoneInfo.Utc;
        Known = true;
        Changed?.Invoke();
    }

    public void ShowUtc(bool utc)
    {
        if (Utc == utc) return;
        Utc = utc;
        Changed?.Invoke();
    }

    public string Format(long ms, TimeStyle style = TimeStyle.Second) => TimeText.Format(ms, Zone, style);

    public string ZoneName(long atMs) => TimeText.ZoneName(Zone, atMs);
}
