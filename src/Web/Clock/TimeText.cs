using System.Globalization;

namespace DropBoard.Web.Clock;

/// <summary>How much of an instant a place shows.</summary>
public enum TimeStyle
{
    /// <summary>2026-11-29 14:05:09</summary>
    Second,
    /// <summary>2026-11-29 14:05</summary>
    Minute,
    /// <summary>14:05:09, where the date is shown nearby</summary>
    Clock,
    /// <summary>14:05:09.120, for bursts in 10 ms buckets</summary>
    Millisecond,
}

/// <summary>
/// Every time DropBoard prints, pages and command line alike: Unix ms in a zone, in one of the <see cref="TimeStyle"/>s.
/// The zone is named once beside the times (pages) or after each (<see cref="Utc"/>), never left to guess.
/// </summary>
public static class TimeText
{
    public static string Format(long ms, TimeZoneInfo zone, TimeStyle style) =>
        TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeMilliseconds(ms), zone).ToString(style switch
        {
            TimeStyle.Second => "yyyy-MM-dd HH:mm:ss",
            TimeStyle.Minute => "yyyy-MM-dd HH:mm",
            TimeStyle.Millisecond => "HH:mm:ss.fff",
            _ => "HH:mm:ss",
        }, CultureInfo.InvariantCulture);

    /// <summary>For the command line and logs: to the minute, in UTC, saying so.</summary>
    public static string Utc(long ms) => Format(ms, TimeZoneInfo.Utc, TimeStyle.Minute) + " UTC";

    /// <summary>The machine-readable instant, for <c>&lt;time datetime&gt;</c>.</summary>
    public static string Iso(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    /// <summary>"Europe/Berlin (UTC+01:00)", "UTC": the zone as the page names it, with its offset at that instant.</summary>
    public static string ZoneName(TimeZoneInfo zone, long atMs)
    {
        if (zone == TimeZoneInfo.Utc) return "UTC";
        var offset = zone.GetUtcOffset(DateTimeOffset.FromUnixTimeMilliseconds(atMs));
        return $"{zone.Id} (UTC{(offset < TimeSpan.Zero ? "−" : "+")}{offset:hh\\:mm})";
    }

    /// <summary>The browser's IANA zone id, or null when it is not one this machine knows (then times stay in UTC).</summary>
    public static TimeZoneInfo? Zone(string? id)
    {
        if (string.IsNullOrEmpty(id) || id.Length > 64) return null;
        try
        {
            return TimeZoneInfo.FindSystemTimeZoneById(id);
        }
        catch (Exception e) when (e is TimeZoneNotFoundException or InvalidTimeZoneException)
        {
            return null;
        }
    }
}
