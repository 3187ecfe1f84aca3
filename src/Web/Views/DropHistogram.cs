namespace DropBoard.Web.Views;

/// <summary>Drops at one site for one reason and protocol over a window; in one network namespace where the source says (bpf).</summary>
public sealed record SiteTotal(string Function, string Site, string? Reason, string Protocol, long Count, uint Netns = 0, string? NetnsName = null);

/// <summary>Drops of one kernel function, with its sites and reasons for when the row is expanded.</summary>
public sealed record FunctionRow(string Function, long Count, double PerSecond, IReadOnlyList<SiteTotal> Sites);

/// <summary>Turns site totals into the histogram live and recorded views show: by function, biggest first.</summary>
public static class DropHistogram
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
}
