using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Packets;
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
    IReadOnlyDictionary<string, string> CounterTexts,
    int HiddenNonNetwork = 0,
    SessionFlows? Flows = null)
{
    /// <summary>Every panel of one session under one request: histogram, counters, drops over time and Explain show the same slice.</summary>
    public static SessionView? Build(SessionQueries queries, long id, ViewRequest? view = null)
    {
        view ??= new ViewRequest();
        if (queries.Get(id) is not { } session) return null;
        var all = queries.Sites(id, view with { Filter = view.Drops with { NonNetwork = true } });
        var sites = all.Where(s => view.Drops.NonNetwork || !NonNetworkFrees.Is(s.Function))
            .Select(s => new SiteTotal(s.Function, s.Site, s.Reason, EtherType.Name(s.Protocol), s.Count, s.Netns, s.NetnsName))
            .ToList();
        var hidden = all.Where(s => !view.Drops.NonNetwork && NonNetworkFrees.Is(s.Function)).Select(s => s.Function).Distinct().Count();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var (drops, counters, bucketMs, kernel) = queries.ExplainInput(id, view);
        if (!session.HasTimestamps)
        {
            // No times: counts, and rates over the duration the importer gave; nothing over time, no bursts, no lead/lag.
            var given = session.KnownDurationMs(now);
            return new SessionView(session, DropHistogram.ByFunction(sites, TimeSpan.FromMilliseconds(given ?? 1)), sites.Sum(s => s.Count),
                queries.Counters(id, view), new TimeSeries([], []), ViewExplanation.ExplainCounts(drops, counters, view.Drops, kernel),
                session.StartedMs, session.StoppedMs ?? session.StartedMs, Rates: given is not null, queries.CounterTexts(id, view), hidden, queries.Flows(id, view));
        }
        var start = view.FromMs ?? session.StartedMs;
        var end = view.ToMs ?? session.StoppedMs ?? now;
        var duration = TimeSpan.FromMilliseconds(Math.Max(1000, end - start));
        var step = Step(duration);
        // An import's counters are its netstat texts before and after: its start is a counter sample too. A recording's
        // first rise covers time before it started, so its span starts at the first sample inside it.
        var samples = counters.Select(c => c.AtMs).Append(session.Origin == "live" ? long.MinValue : session.StartedMs);
        // Drops of a session still recording arrive up to a batch late: its span ends at a sample a second old.
        var complete = session.StoppedMs is null ? now - 1000 : end;
        var span = SampleSpan.Between(samples, start, Math.Min(end, complete));
        var explanation = ViewExplanation.Explain(drops, counters, view.Drops, kernel, bucketMs, bucketMs >= Rollup.SecondMs ? OnGrid(span, samples, bucketMs) : span);
        return new SessionView(session, DropHistogram.ByFunction(sites, duration), sites.Sum(s => s.Count), queries.Counters(id, view),
            queries.DropsOverTime(id, step, view), explanation, start, view.ToMs ?? session.StoppedMs ?? end, Rates: true, queries.CounterTexts(id, view), hidden, queries.Flows(id, view));
    }

    private static readonly int[] Steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];

    /// <summary>
    /// A chart's step: at most about 600 points, a step a reader counts in; from a minute on, whole minutes, which are
    /// read from the per-minute sums.
    /// </summary>
    public static int Step(TimeSpan duration)
    {
        var least = duration.TotalSeconds / 600;
        return Steps.FirstOrDefault(s => s >= least, (int)Math.Ceiling(least / 86400) * 86400);
    }

    /// <summary>
    /// A span over drops summed per second or minute: from the last sample before the first grid line in it to the last
    /// sample before the last one, so the rows it holds are the drops of its counter rises give or take one sample
    /// interval at each edge (rather than one row). The span as it was when it holds no whole row.
    /// </summary>
    private static SampleSpan? OnGrid(SampleSpan? span, IEnumerable<long> samples, long gridMs)
    {
        if (span is null) return null;
        var times = samples.Where(t => t >= span.StartMs && t <= span.EndMs).Order().ToList();
        var first = Rollup.Ceiling(span.StartMs, gridMs) * gridMs;
        var last = Rollup.Floor(span.EndMs, gridMs) * gridMs;
        var start = times.LastOrDefault(t => t <= first, long.MinValue);
        var end = times.LastOrDefault(t => t <= last, long.MinValue);
        return start > long.MinValue && end > start ? new SampleSpan(start, end) : span;
    }
}
