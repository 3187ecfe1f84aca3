using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Packets;
using DropBoard.Web.Live;
using DropBoard.Web.Views;

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
    long WindowEndMs,
    bool Rates,
    IReadOnlyDictionary<string, string> CounterTexts)
{
    /// <summary>Every panel of one session under one request: histogram, counters, drops over time and Explain show the same slice.</summary>
    public static SessionView? Build(SessionQueries queries, long id, ViewRequest? view = null)
    {
        view ??= new ViewRequest();
        if (queries.Get(id) is not { } session) return null;
        var sites = queries.Sites(id, view)
            .Select(s => new SiteTotal(s.Function, s.Site, s.Reason, EtherType.Name(s.Protocol), s.Count, s.Netns, s.NetnsName))
            .ToList();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var (drops, counters, bucketMs, kernel) = queries.ExplainInput(id, view);
        if (!session.HasTimestamps)
        {
            // No times: counts, and rates over the duration the importer gave; nothing over time, no bursts, no lead/lag.
            var given = session.KnownDurationMs(now);
            return new SessionView(session, LiveHistogram.ByFunction(sites, TimeSpan.FromMilliseconds(given ?? 1)), sites.Sum(s => s.Count),
                queries.Counters(id, view), new TimeSeries([], []), CountsOnly(drops, counters, view.Drops, kernel),
                session.StartedMs, session.StoppedMs ?? session.StartedMs, Rates: given is not null, queries.CounterTexts(id, view));
        }
        var start = view.FromMs ?? session.StartedMs;
        var end = view.ToMs ?? session.StoppedMs ?? now;
        var duration = TimeSpan.FromMilliseconds(Math.Max(1000, end - start));
        var step = Math.Max(1, (int)(duration.TotalSeconds / 600)); // at most ~600 points a chart
        // An import's counters are its netstat texts before and after: its start is a counter sample too. A recording's
        // first rise covers time before it started, so its span starts at the first sample inside it.
        var samples = counters.Select(c => c.AtMs).Append(session.Origin == "live" ? long.MinValue : session.StartedMs);
        // Drops of a session still recording arrive up to a batch late: its span ends at a sample a second old.
        var complete = session.StoppedMs is null ? now - 1000 : end;
        var explanation = ViewExplanation.Explain(drops, counters, view.Drops, kernel, bucketMs, SampleSpan.Between(samples, start, Math.Min(end, complete)));
        return new SessionView(session, LiveHistogram.ByFunction(sites, duration), sites.Sum(s => s.Count), queries.Counters(id, view),
            queries.DropsOverTime(id, step, view), explanation, start, view.ToMs ?? session.StoppedMs ?? end, Rates: true, queries.CounterTexts(id, view));
    }

    /// <summary>
    /// Attribution and known patterns, which need only counts. Bursts and lead/lag need times: none are looked for
    /// (no site is compared with another, and the one instant every count sits at is no burst).
    /// </summary>
    private static ExplainReport CountsOnly(List<DropBucket> drops, List<CounterDelta> counters, DropFilter filter, string? kernel) =>
        Explainer.Explain(drops.Where(filter.Matches).ToList(), counters, new ExplainOptions { KernelRelease = kernel, TopSites = 0 }) with { Bursts = [] };
}
