using Dapper;

namespace DropBoard.Web.Sessions;

/// <summary>
/// Which rollup rows hold a view's drops: whole minutes from the per-minute sums, the seconds around them from the
/// per-second sums. <see cref="Rows"/> is a query of (second, site, count) over both, for the view's session and host;
/// its totals equal those of the session's 10 ms rows over the same seconds.
/// </summary>
/// <param name="FromSecond">First second of the window (null: from the start).</param>
/// <param name="ToSecond">Second after the window (null: to the end).</param>
/// <param name="FromMinute">First minute read from the per-minute sums (null: from the start); the seconds before it come from the per-second sums.</param>
/// <param name="ToMinute">Minute after those read from the per-minute sums (null: to the end).</param>
/// <param name="Minutes">False: every second from the per-second sums.</param>
public sealed record DropPlan(long? FromSecond, long? ToSecond, long? FromMinute, long? ToMinute, bool Minutes)
{
    /// <summary>
    /// For totals over a window (widened to whole seconds): its whole minutes from minutes. Where retention left only
    /// minutes (before <paramref name="secondsFromMs"/>), an edge is widened to its whole minute.
    /// </summary>
    public static DropPlan ForTotals(long? fromMs, long? toMs, long? secondsFromMs)
    {
        var (fromSecond, toSecond) = Seconds(fromMs, toMs);
        var fromMinute = fromSecond is { } f ? (Thinned(f, secondsFromMs) ? Rollup.Floor(f, 60) : Rollup.Ceiling(f, 60)) : (long?)null;
        var toMinute = toSecond is { } t ? (Thinned(t - 1, secondsFromMs) ? Rollup.Ceiling(t, 60) : Rollup.Floor(t, 60)) : (long?)null;
        if (fromMinute >= toMinute) return new DropPlan(fromSecond, toSecond, null, null, Thinned(fromSecond!.Value, secondsFromMs));
        return new DropPlan(fromSecond, toSecond, fromMinute, toMinute, true);
    }

    /// <summary>
    /// For sums per step of <paramref name="stepSeconds"/>: minutes where a step is whole minutes (or retention left only
    /// minutes), else seconds.
    /// </summary>
    public static DropPlan ForSteps(int stepSeconds, long? fromMs, long? toMs, long? secondsFromMs)
    {
        if (stepSeconds % 60 == 0) return ForTotals(fromMs, toMs, secondsFromMs);
        var (fromSecond, toSecond) = Seconds(fromMs, toMs);
        // Minutes only before the seconds kept: the minute's drops land in the step its start falls in.
        return secondsFromMs is { } kept && (fromSecond is null || fromSecond < kept / 1000)
            ? new DropPlan(fromSecond, toSecond, fromSecond is { } f ? Rollup.Floor(f, 60) : null,
                Math.Min(Rollup.Ceiling(kept, Rollup.MinuteMs), toSecond is { } t ? Rollup.Ceiling(t, 60) : long.MaxValue), true)
            : new DropPlan(fromSecond, toSecond, null, null, false);
    }

    private static (long? From, long? To) Seconds(long? fromMs, long? toMs) =>
        (fromMs is { } f ? Rollup.Floor(f, Rollup.SecondMs) : null, toMs is { } t ? Rollup.Ceiling(t, Rollup.SecondMs) : null);

    private static bool Thinned(long second, long? secondsFromMs) => secondsFromMs is { } kept && second * 1000 < kept;

    /// <summary>(second, site, count) rows: minutes as their first second. Parameters: <see cref="Parameters"/>.</summary>
    public string Rows => Minutes
        ? $"""
          SELECT minute * 60 AS second, site, count FROM minutes
          WHERE session_host IN ({SessionQueries.HostFilter}) AND minute >= @fromMinute AND minute < @toMinute
          UNION ALL
          SELECT second, site, count FROM seconds
          WHERE session_host IN ({SessionQueries.HostFilter}) AND second >= @fromSecond AND second < @beforeMinutes
          UNION ALL
          SELECT second, site, count FROM seconds
          WHERE session_host IN ({SessionQueries.HostFilter}) AND second >= @afterMinutes AND second < @toSecond
          """
        : $"""
          SELECT second, site, count FROM seconds
          WHERE session_host IN ({SessionQueries.HostFilter}) AND second >= @fromSecond AND second < @toSecond
          """;

    /// <summary>The parameters of <see cref="Rows"/> (bounds as numbers, so each part is one range of its table's key), and any more.</summary>
    public DynamicParameters Parameters(long id, string? host, object? more = null)
    {
        var parameters = new DynamicParameters(more);
        parameters.AddDynamicParams(new
        {
            id, host,
            fromSecond = FromSecond ?? long.MinValue,
            toSecond = ToSecond ?? long.MaxValue,
            fromMinute = FromMinute ?? long.MinValue,
            toMinute = ToMinute ?? long.MaxValue,
            // Seconds before the first minute read and after the last one; none on a side the minutes reach to the end.
            beforeMinutes = FromMinute is { } f ? f * 60 : long.MinValue,
            afterMinutes = ToMinute is { } t ? t * 60 : long.MaxValue,
        });
        return parameters;
    }
}
