using Dapper;

namespace DropBoard.Web.Sessions;

/// <summary>
/// Which rollup rows hold a view's drops: whole minutes (or whole 10 seconds) from their sums, the seconds around them
/// from the per-second sums. <see cref="Rows"/> is a query of (second, site, count) over both, for the view's session
/// and host; its totals equal those of the session's 10 ms rows over the same seconds.
/// </summary>
/// <param name="FromSecond">First second of the window (null: from the start).</param>
/// <param name="ToSecond">Second after the window (null: to the end).</param>
/// <param name="FromCoarse">First minute (or 10 seconds) read from <paramref name="Coarse"/> (null: from the start); the seconds before it come from the per-second sums.</param>
/// <param name="ToCoarse">Minute (or 10 seconds) after those read from <paramref name="Coarse"/> (null: to the end).</param>
/// <param name="Coarse"><see cref="Resolution.Minute"/> or <see cref="Resolution.TenSeconds"/>; null: every second from the per-second sums.</param>
public sealed record DropPlan(long? FromSecond, long? ToSecond, long? FromCoarse, long? ToCoarse, Resolution? Coarse)
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
        if (fromMinute >= toMinute)
            return new DropPlan(fromSecond, toSecond, null, null, Thinned(fromSecond!.Value, secondsFromMs) ? Resolution.Minute : null);
        return new DropPlan(fromSecond, toSecond, fromMinute, toMinute, Resolution.Minute);
    }

    /// <summary>
    /// For sums per step of <paramref name="stepSeconds"/>: minutes where a step is whole minutes (or retention left only
    /// minutes), else 10 seconds where a step is whole 10 seconds, else seconds.
    /// </summary>
    public static DropPlan ForSteps(int stepSeconds, long? fromMs, long? toMs, long? secondsFromMs)
    {
        if (stepSeconds % 60 == 0) return ForTotals(fromMs, toMs, secondsFromMs);
        var (fromSecond, toSecond) = Seconds(fromMs, toMs);
        // Minutes only before the seconds kept: the minute's drops land in the step its start falls in.
        if (secondsFromMs is { } kept && (fromSecond is null || fromSecond < kept / 1000))
            return new DropPlan(fromSecond, toSecond, fromSecond is { } f ? Rollup.Floor(f, 60) : null,
                Math.Min(Rollup.Ceiling(kept, Rollup.MinuteMs), toSecond is { } t ? Rollup.Ceiling(t, 60) : long.MaxValue), Resolution.Minute);
        if (stepSeconds % 10 != 0) return new DropPlan(fromSecond, toSecond, null, null, null);
        // The 10 seconds are kept wherever the seconds are: the window's whole ones from them.
        var fromTen = fromSecond is { } from ? Rollup.Ceiling(from, 10) : (long?)null;
        var toTen = toSecond is { } to ? Rollup.Floor(to, 10) : (long?)null;
        return fromTen >= toTen
            ? new DropPlan(fromSecond, toSecond, null, null, null)
            : new DropPlan(fromSecond, toSecond, fromTen, toTen, Resolution.TenSeconds);
    }

    private static (long? From, long? To) Seconds(long? fromMs, long? toMs) =>
        (fromMs is { } f ? Rollup.Floor(f, Rollup.SecondMs) : null, toMs is { } t ? Rollup.Ceiling(t, Rollup.SecondMs) : null);

    private static bool Thinned(long second, long? secondsFromMs) => secondsFromMs is { } kept && second * 1000 < kept;

    /// <summary>The table of <see cref="Coarse"/>, its time column and the seconds in its row.</summary>
    private (string Table, string Time, long Seconds) CoarseRows => Coarse == Resolution.TenSeconds ? ("tens", "ten", 10) : ("minutes", "minute", 60);

    /// <summary>(second, site, count) rows: a minute or 10 seconds as its first second. Parameters: <see cref="Parameters"/>.</summary>
    public string Rows
    {
        get
        {
            var seconds = $"SELECT second, site, count FROM seconds WHERE session_host IN ({SessionQueries.HostFilter})";
            if (Coarse is null) return $"{seconds} AND second >= @fromSecond AND second < @toSecond";
            var (table, time, unit) = CoarseRows;
            return $"""
                    SELECT {time} * {unit} AS second, site, count FROM {table}
                    WHERE session_host IN ({SessionQueries.HostFilter}) AND {time} >= @fromCoarse AND {time} < @toCoarse
                    UNION ALL
                    {seconds} AND second >= @fromSecond AND second < @beforeCoarse
                    UNION ALL
                    {seconds} AND second >= @afterCoarse AND second < @toSecond
                    """;
        }
    }

    /// <summary>The parameters of <see cref="Rows"/> (bounds as numbers, so each part is one range of its table's key), and any more.</summary>
    public DynamicParameters Parameters(long id, string? host, object? more = null)
    {
        var parameters = new DynamicParameters(more);
        parameters.AddDynamicParams(new
        {
            id, host,
            fromSecond = FromSecond ?? long.MinValue,
            toSecond = ToSecond ?? long.MaxValue,
            fromCoarse = FromCoarse ?? long.MinValue,
            toCoarse = ToCoarse ?? long.MaxValue,
            // Seconds before the first coarse row read and after the last one; none on a side the coarse rows reach to the end.
            beforeCoarse = FromCoarse is { } f ? f * CoarseRows.Seconds : long.MinValue,
            afterCoarse = ToCoarse is { } t ? t * CoarseRows.Seconds : long.MaxValue,
        });
        return parameters;
    }
}
