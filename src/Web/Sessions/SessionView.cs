using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Packets;
using DropBoard.Web.Live;

namespace DropBoard.Web.Sessions;

/// <summary>What a session detail or an investigation shows of one session, under optional filters and window.</summary>
public sealed record SessionView(
    SessionInfo Session,
    IReadOnlyList<FunctionRow> Rows,
    long Drops,
    IReadOnlyList<CounterDelta> Counters,
    TimeSeries DropsOverTime,
    ExplainReport Explanation,
    long WindowStartMs,
    long WindowEndMs)
{
    public static SessionView? Build(SessionQueries queries, long id, string? host = null, string? reason = null, string? site = null,
        long? fromMs = null, long? toMs = null)
    {
        if (queries.Get(id) is not { } session) return null;
        var sites = queries.Sites(id, host, fromMs, toMs)
            .Where(s => string.IsNullOrEmpty(reason) || (s.Reason ?? "-") == reason)
            .Where(s => string.IsNullOrEmpty(site) || s.Site.Contains(site, StringComparison.OrdinalIgnoreCase))
            .Select(s => new SiteTotal(s.Function, s.Site, s.Reason, EtherType.Name(s.Protocol), s.Count))
            .ToList();
        var start = fromMs ?? session.StartedMs;
        var end = toMs ?? session.StoppedMs ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var duration = TimeSpan.FromMilliseconds(Math.Max(1000, end - start));
        var step = Math.Max(1, (int)(duration.TotalSeconds / 600)); // at most ~600 points a chart
        var (drops, counters, bucketMs, kernel) = queries.ExplainInput(id);
        var explanation = Explainer.Explain(drops, counters, new ExplainOptions
        {
            KernelRelease = kernel, BucketMs = bucketMs, HorizonMs = Math.Max(1000, 2L * bucketMs),
            WindowStartMs = session.StartedMs, WindowEndMs = session.StoppedMs,
        });
        return new SessionView(session, LiveHistogram.ByFunction(sites, duration), sites.Sum(s => s.Count), queries.Counters(id, host),
            queries.DropsOverTime(id, step, host: host), explanation, session.StartedMs, session.StoppedMs ?? end);
    }
}
