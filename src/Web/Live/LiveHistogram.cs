namespace DropBoard.Web.Live;

/// <summary>Drops of one kernel function, with its sites and reasons for when the row is expanded.</summary>
public sealed record FunctionRow(string Function, long Count, double PerSecond, IReadOnlyList<SiteTotal> Sites);

/// <summary>Turns site totals into the histogram the live page shows: by function, biggest first.</summary>
public static class LiveHistogram
{
    public static List<FunctionRow> ByFunction(IEnumerable<SiteTotal> sites, TimeSpan window) =>
        sites
            .GroupBy(s => s.Function)
            .Select(g =>
            {
                var count = g.Sum(s => s.Count);
                return new FunctionRow(g.Key, count, count / window.TotalSeconds, g.OrderByDescending(s => s.Count).ToList());
            })
            .OrderByDescending(r => r.Count)
            .ThenBy(r => r.Function, StringComparer.Ordinal)
            .ToList();

    /// <summary>1234 → "1.2k", 2500000 → "2.5M": numbers a glance can read.</summary>
    public static string Short(double value) => value switch
    {
        >= 1e9 => $"{value / 1e9:0.#}G",
        >= 1e6 => $"{value / 1e6:0.#}M",
        >= 1e3 => $"{value / 1e3:0.#}k",
        >= 10 => $"{value:0}",
        _ => $"{value:0.#}",
    };
}
