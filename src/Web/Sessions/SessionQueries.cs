using System.Data.Common;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Packets;
using DropBoard.Web.Live;
using DropBoard.Web.Sessions.Storage;
using DropBoard.Web.Views;

namespace DropBoard.Web.Sessions;

/// <summary>
/// What the session pages and the API read. Histograms and time series come from the per-minute sums, with the
/// per-second ones at a window's edges (<see cref="DropPlan"/>); Explain from the finest rows that are not too many.
/// </summary>
public sealed class SessionQueries(SessionDatabase database, TimeProvider clock)
{
    /// <summary>Explain reads at most about this many rows: a session with more 10 ms rows is explained per second, or per minute.</summary>
    private const int ExplainRows = 300_000;

    /// <summary>A chart reads at most about this many per-second rows (summed in the database), else it is drawn in minutes.</summary>
    private const int ChartRows = 1_000_000;

    private long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <summary>
    /// Sessions whose name or notes hold <paramref name="search"/>, in the order <paramref name="sort"/> names (newest,
    /// oldest, name, drops, size, duration; ties by id): one query, sorted by the database, whatever the number of sessions.
    /// </summary>
    public IReadOnlyList<SessionInfo> List(string? search = null, string sort = "newest")
    {
        var engine = database.Engine;
        using var connection = database.Connect();
        var order = sort switch
        {
            "oldest" => "s.started_ms",
            "name" => engine.OrderIgnoringCase(connection, "s.name"),
            "drops" => "Drops DESC",
            "size" => "Size DESC",
            "duration" => $"{engine.Greatest("1", "coalesce(s.stopped_ms, @now) - s.started_ms")} DESC",
            _ => "s.started_ms DESC",
        };
        var like = engine.LikeIgnoringCase;
        return connection.Query<SessionRow>(
                $"{SessionRows(engine)} WHERE @search IS NULL OR s.name {like} '%' || @search || '%' OR s.notes {like} '%' || @search || '%' ORDER BY {order}, s.id",
                new { search = string.IsNullOrWhiteSpace(search) ? null : search.Trim(), now = Now })
            .Select(r => r.ToInfo()).ToList();
    }

    public SessionInfo? Get(long id)
    {
        using var connection = database.Connect();
        return connection.QuerySingleOrDefault<SessionRow>($"{SessionRows(database.Engine)} WHERE s.id = @id", new { id })?.ToInfo();
    }

    /// <summary>A session with its hosts and gaps (as JSON arrays) and its totals, in one row.</summary>
    private static string SessionRows(StoreEngine engine) =>
        $"""
        SELECT s.id AS Id, s.name AS Name, s.state AS State, s.origin AS Origin, s.started_ms AS StartedMs, s.stopped_ms AS StoppedMs, s.notes AS Notes,
               (SELECT {engine.JsonArray("'hostId', host_id, 'hostName', host_name, 'kernel', kernel, 'source', source, 'bucketMs', bucket_ms, 'lostRecords', lost_records, 'drops', drops", "host_name")}
                FROM session_hosts WHERE session_id = s.id) AS Hosts,
               (SELECT {engine.JsonArray("'fromMs', from_ms, 'toMs', to_ms, 'why', why", "from_ms")}
                FROM gaps WHERE session_id = s.id) AS Gaps,
               (SELECT coalesce(sum(drops), 0) FROM session_hosts WHERE session_id = s.id) AS Drops,
               (SELECT coalesce(sum(bucket_rows), 0) FROM session_hosts WHERE session_id = s.id) AS Size
        FROM sessions s
        """;

    /// <summary>Drops per site, reason and protocol of the view (host, drops, window [from, to) widened to whole seconds).</summary>
    public IReadOnlyList<SessionSite> Sites(long id, ViewRequest? view = null)
    {
        view ??= new ViewRequest();
        using var connection = database.Connect();
        var plan = DropPlan.ForTotals(view.FromMs, view.ToMs, SecondsFromMs(connection, id));
        return connection.Query<SiteRow>(
            $"""
            SELECT s.function AS Function, s.site AS Site, s.reason AS Reason, s.protocol AS Protocol, t.count AS Count,
                   s.netns AS Netns, s.netns_name AS NetnsName
            FROM (SELECT site, sum(count) AS count FROM ({plan.Rows}) r GROUP BY site) t
            JOIN sites s ON s.id = t.site
            ORDER BY t.count DESC, s.site
            """, plan.Parameters(id, view.Host))
            .Select(r => new SessionSite(r.Function, r.Site, r.Reason, (ushort)r.Protocol, r.Count, (uint)r.Netns, r.NetnsName))
            .Where(r => view.Drops.Matches(r.Site, r.Reason, EtherType.Name(r.Protocol), r.Netns))
            .ToList();
    }

    /// <summary>Since when the session still has its 10 ms rows, and its per-second rows (null: all of them).</summary>
    private static (long? BucketsFromMs, long? SecondsFromMs) Kept(DbConnection connection, long id) =>
        connection.QuerySingle<(long? BucketsFromMs, long? SecondsFromMs)>("SELECT buckets_from_ms, seconds_from_ms FROM sessions WHERE id = @id", new { id });

    /// <summary>Since when the session still has its per-second rows (null: all of them); before it, retention left its minutes.</summary>
    private static long? SecondsFromMs(DbConnection connection, long id) =>
        connection.ExecuteScalar<long?>("SELECT seconds_from_ms FROM sessions WHERE id = @id", new { id });

    /// <summary>
    /// What each counter of the view's hosts counts, in words (a netfilter rule's text). A name whose hosts gave it
    /// different texts has none here: pick one host to see its own.
    /// </summary>
    public IReadOnlyDictionary<string, string> CounterTexts(long id, ViewRequest? view = null)
    {
        view ??= new ViewRequest();
        using var connection = database.Connect();
        return connection.Query<(string Name, string Text)>(
            $"SELECT name, min(text) FROM counter_texts WHERE session_host IN ({HostFilter}) GROUP BY name HAVING count(DISTINCT text) = 1",
            new { id, host = view.Host }).ToDictionary(t => t.Name, t => t.Text, StringComparer.Ordinal);
    }

    /// <summary>
    /// The session's dropped flows (of the view's host; the window does not apply: flows are kept per session), sites
    /// most dropped first, at most <paramref name="sites"/> with their top flows, and the drops sampled and not of all.
    /// </summary>
    public SessionFlows Flows(long id, ViewRequest? view = null, int sites = 10)
    {
        view ??= new ViewRequest();
        using var connection = database.Connect();
        var filter = new { id, host = view.Host };
        var (sampled, notSampled) = connection.QuerySingle<(long, long)>(
            $"SELECT coalesce(sum(sampled), 0), coalesce(sum(not_sampled), 0) FROM flow_sites WHERE session_host IN ({HostFilter})", filter);
        var top = FlowSites(connection, $"session_host IN ({HostFilter})", filter, sites, FlowSite.MaxTop);
        return new SessionFlows(top, sampled, notSampled);
    }

    /// <summary>Flow sites of the hosts <paramref name="hosts"/> selects, summed over them, each with its flows most first.</summary>
    private static List<FlowSite> FlowSites(DbConnection connection, string hosts, object filter, int sites, int flows)
    {
        var rows = connection.Query<(string Site, string Function, long Netns, string? NetnsName, long Sampled, long NotSampled)>(
            $"""
            SELECT site, min(function), netns, max(netns_name), sum(sampled), sum(not_sampled) FROM flow_sites WHERE {hosts}
            GROUP BY site, netns ORDER BY sum(sampled) + sum(not_sampled) DESC, site, netns LIMIT {sites}
            """, filter).ToList();
        return rows.Select(r => new FlowSite(r.Site, r.Function, r.Sampled, r.NotSampled,
            [.. connection.Query<(long IpProtocol, string Source, long SourcePort, string Destination, long DestinationPort, long Ifindex, long Count)>(
                    $"""
                    SELECT ip_protocol, source, source_port, destination, destination_port, ifindex, sum(count) FROM flows
                    WHERE {hosts} AND site = @site AND netns = @netns
                    GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY sum(count) DESC, 2, 3, 4, 5, 6, 1 LIMIT {flows}
                    """, SiteFilter(filter, r.Site, r.Netns))
                .Select(f => new DroppedFlow((byte)f.IpProtocol, f.Source, (ushort)f.SourcePort, f.Destination, (ushort)f.DestinationPort, f.Count, (int)f.Ifindex))],
            (uint)r.Netns, r.NetnsName)).ToList();
    }

    private static DynamicParameters SiteFilter(object hosts, string site, long netns)
    {
        var parameters = new DynamicParameters(hosts);
        parameters.Add("site", site);
        parameters.Add("netns", netns);
        return parameters;
    }

    /// <summary>Counter rises summed by name and namespace, of the view's host and window (of the drop filters only the namespace applies to counters).</summary>
    public IReadOnlyList<CounterDelta> Counters(long id, ViewRequest? view = null)
    {
        view ??= new ViewRequest();
        using var connection = database.Connect();
        return connection.Query<CounterRow>(
            $"""
            SELECT name AS Name, sum(delta) AS Delta, max(at_ms) AS AtMs, netns AS Netns FROM counters
            WHERE session_host IN ({HostFilter}) AND (@from IS NULL OR at_ms >= @from) AND (@to IS NULL OR at_ms < @to)
            GROUP BY name, netns ORDER BY name, netns
            """,
            new { id, host = view.Host, from = view.FromMs, to = view.ToMs }).Select(r => r.ToDelta()).Where(c => view.Drops.MatchesNetns(c.Netns)).ToList();
    }

    /// <summary>
    /// Drops per time step (seconds) of the top functions, the rest as "other". A step shorter than a minute that could
    /// read more than <see cref="ChartRows"/> per-second rows (a session of many hosts) is made a minute.
    /// </summary>
    public TimeSeries DropsOverTime(long id, int stepSeconds, ViewRequest? view = null, int top = 8)
    {
        view ??= new ViewRequest();
        using var connection = database.Connect();
        if (stepSeconds < 60 && 60 * MinuteRows(connection, id, view) > ChartRows) stepSeconds = 60;
        var sites = SiteKeys(connection);
        var plan = DropPlan.ForSteps(stepSeconds, view.FromMs, view.ToMs, SecondsFromMs(connection, id));
        var functions = new Dictionary<string, int>(StringComparer.Ordinal);
        var functionOf = new SiteFunctions(sites.Count);
        foreach (var (siteId, site) in sites)
        {
            if (!view.Drops.Matches(site.Site, site.Reason, EtherType.Name((ushort)site.Protocol), site.Netns)) continue;
            if (!functions.TryGetValue(site.Function, out var function)) functions[site.Function] = function = functions.Count;
            functionOf.Add(siteId, function);
        }
        var names = functions.OrderBy(f => f.Value).Select(f => f.Key).ToArray();
        var sums = new StepSums(names.Length, stepSeconds);
        // Summed here as the rows stream in (they come in the key's order, not the step's): a GROUP BY over an
        // expression makes the database sort every row first, which cost ~5x one plain scan of them.
        using (var reader = connection.ExecuteReader($"SELECT second, site, count FROM ({plan.Rows}) r", plan.Parameters(id, view.Host)))
            while (reader.Read())
                if (functionOf[reader.GetInt64(1)] is var function and >= 0)
                    sums.Add(reader.GetInt64(0), function, reader.GetInt64(2));
        var steps = sums.Steps();
        if (steps.Count == 0) return TimeSeries.Empty;
        var first = steps.Keys.Min(k => k.Step);
        var last = steps.Keys.Max(k => k.Step);
        var seconds = Enumerable.Range(0, (int)(last - first + 1)).Select(i => (first + i) * stepSeconds).ToArray();
        return TimeSeries.Top(seconds, steps.Select(kv => ((int)(kv.Key.Step - first), names[kv.Key.Function], kv.Value)), top);
    }

    /// <summary>
    /// The session's drops and counters for the explanation: its 10 ms buckets when there are not too many (and
    /// retention kept them), else its seconds when those are few enough (and kept), else its minutes.
    /// </summary>
    public (List<DropBucket> Drops, List<CounterDelta> Counters, int BucketMs, string? Kernel) ExplainInput(long id, ViewRequest? view = null)
    {
        view ??= new ViewRequest();
        var window = new { id, host = view.Host, from = view.FromMs, to = view.ToMs };
        using var connection = database.Connect();
        var kernel = connection.ExecuteScalar<string?>($"SELECT kernel FROM session_hosts WHERE id IN ({HostFilter}) ORDER BY id LIMIT 1", window);
        var bucketMs = connection.ExecuteScalar<int?>($"SELECT max(bucket_ms) FROM session_hosts WHERE id IN ({HostFilter})", window) ?? 10;
        var counters = connection.Query<CounterRow>(
            $"""
            SELECT name AS Name, delta AS Delta, at_ms AS AtMs, netns AS Netns FROM counters
            WHERE session_host IN ({HostFilter}) AND (@from IS NULL OR at_ms >= @from) AND (@to IS NULL OR at_ms < @to) ORDER BY at_ms
            """, window).Select(r => r.ToDelta()).ToList();
        var resolution = ExplainResolution(connection, id, view);
        if (resolution == Resolution.Bucket)
        {
            var drops = connection.Query<BucketRow>(
                $"""
                SELECT s.site AS Site, s.function AS Function, s.reason AS Reason, b.start_ms AS StartMs, b.count AS Count, s.protocol AS Protocol,
                       s.netns AS Netns, s.netns_name AS NetnsName
                FROM buckets b JOIN sites s ON s.id = b.site
                WHERE b.session_host IN ({HostFilter}) AND (@from IS NULL OR b.start_ms >= @from) AND (@to IS NULL OR b.start_ms < @to)
                ORDER BY b.start_ms
                """, window).Select(r => r.ToBucket()).ToList();
            return (drops, counters, bucketMs, kernel);
        }
        var (table, time, unit) = resolution == Resolution.Second ? ("seconds", "second", Rollup.SecondMs) : ("minutes", "minute", Rollup.MinuteMs);
        var sites = SiteKeys(connection);
        var coarse = connection.Query<(long At, long Site, long Count)>(
                $"""
                SELECT {time}, site, count FROM {table}
                WHERE session_host IN ({HostFilter}) AND {time} >= @from AND {time} < @to ORDER BY {time}
                """, new
                {
                    id, host = view.Host,
                    from = view.FromMs is { } from ? Rollup.Floor(from, unit) : long.MinValue,
                    to = view.ToMs is { } to ? Rollup.Ceiling(to, unit) : long.MaxValue,
                })
            .Select(r =>
            {
                var s = sites[r.Site];
                return new DropBucket(s.Site, s.Function, s.Reason, r.At * unit, r.Count, (ushort)s.Protocol, s.Netns, s.NetnsName);
            })
            .ToList();
        return (coarse, counters, (int)Math.Max(unit, bucketMs), kernel);
    }

    /// <summary>
    /// The finest resolution the view's drops are kept at whose rows stay within <see cref="ExplainRows"/>: the 10 ms
    /// rows are counted as they are written; the seconds are at most 60 a minute row, and at most one a 10 ms row.
    /// </summary>
    private static Resolution ExplainResolution(DbConnection connection, long id, ViewRequest view)
    {
        var kept = Kept(connection, id);
        bool Whole(long? keptFromMs) => keptFromMs is null || view.FromMs >= keptFromMs;
        var fine = connection.ExecuteScalar<long>($"SELECT coalesce(sum(bucket_rows), 0) FROM session_hosts WHERE id IN ({HostFilter})", new { id, host = view.Host });
        if (fine <= ExplainRows && Whole(kept.BucketsFromMs)) return Resolution.Bucket;
        if (!Whole(kept.SecondsFromMs)) return Resolution.Minute;
        return Math.Min(fine, 60 * MinuteRows(connection, id, view)) <= ExplainRows ? Resolution.Second : Resolution.Minute;
    }

    /// <summary>The view's per-minute rows: a bound on its per-second rows is 60 times as many.</summary>
    private static long MinuteRows(DbConnection connection, long id, ViewRequest view) => connection.ExecuteScalar<long>(
        $"SELECT count(*) FROM minutes WHERE session_host IN ({HostFilter}) AND minute >= @from AND minute < @to", new
        {
            id, host = view.Host,
            from = view.FromMs is { } from ? Rollup.Floor(from, Rollup.MinuteMs) : long.MinValue,
            to = view.ToMs is { } to ? Rollup.Ceiling(to, Rollup.MinuteMs) : long.MaxValue,
        });

    /// <summary>Everything of a session, as DropBoard's own file (see <see cref="SessionFile"/>).</summary>
    public SessionFile? Export(long id)
    {
        if (Get(id) is not { } info) return null;
        using var connection = database.Connect();
        var kept = Kept(connection, id);
        var hosts = new List<SessionFileHost>();
        foreach (var h in connection.Query<HostRow>(
                     "SELECT id AS Key, host_id AS HostId, host_name AS HostName, kernel AS Kernel, source AS Source, bucket_ms AS BucketMs, lost_records AS LostRecords FROM session_hosts WHERE session_id = @id ORDER BY id",
                     new { id }))
        {
            var key = h.Key;
            // Where retention thinned the session out, its drops are the sums it kept: per second, and before that per minute.
            var drops = connection.Query<BucketRow>(
                """
                SELECT s.site AS Site, s.function AS Function, s.reason AS Reason, b.start_ms AS StartMs, b.count AS Count, s.protocol AS Protocol,
                       s.netns AS Netns, s.netns_name AS NetnsName
                FROM (SELECT minute * 60000 AS start_ms, site, count FROM minutes WHERE session_host = @key AND minute < @secondsFrom / 60000
                      UNION ALL
                      SELECT second * 1000, site, count FROM seconds WHERE session_host = @key AND second >= @secondsFrom / 1000 AND second < @bucketsFrom / 1000
                      UNION ALL
                      SELECT start_ms, site, count FROM buckets WHERE session_host = @key) b
                JOIN sites s ON s.id = b.site ORDER BY b.start_ms, b.site
                """,
                new { key, secondsFrom = kept.SecondsFromMs ?? long.MinValue, bucketsFrom = kept.BucketsFromMs ?? long.MinValue }).Select(r => r.ToBucket()).ToList();
            var counters = connection.Query<CounterRow>($"SELECT name AS Name, delta AS Delta, at_ms AS AtMs, netns AS Netns FROM counters WHERE session_host = @key ORDER BY {database.Engine.WrittenOrder}", new { key }).Select(r => r.ToDelta()).ToList();
            var samples = connection.Query<SampleRow>(
                $"SELECT ts_ns AS TimestampNs, site AS Site, function AS Function, reason AS Reason, protocol AS Protocol, in_port AS InPort, original_length AS OriginalLength, header AS Header FROM samples WHERE session_host = @key ORDER BY {database.Engine.WrittenOrder}",
                new { key }).Select(r => r.ToSample()).ToList();
            var texts = connection.Query<(string Name, string Text)>("SELECT name, text FROM counter_texts WHERE session_host = @key ORDER BY name", new { key })
                .ToDictionary(t => t.Name, t => t.Text, StringComparer.Ordinal);
            var flows = FlowSites(connection, "session_host = @key", new { key }, int.MaxValue, Import.ImportLimits.MaxFlowsPerSite);
            hosts.Add(new SessionFileHost(h.HostId, h.HostName, h.Kernel, h.Source, (int)h.BucketMs, h.LostRecords, drops, counters, samples,
                texts.Count > 0 ? texts : null, flows.Count > 0 ? flows : null));
        }
        return new SessionFile(SessionFile.FormatName, 1, info.Name, info.Origin, info.StartedMs, info.StoppedMs, info.Notes, hosts, info.Gaps);
    }

    private static Dictionary<long, (string Site, string Function, string? Reason, long Protocol, uint Netns, string? NetnsName)> SiteKeys(DbConnection connection) =>
        connection.Query<(long Id, string Site, string Function, string? Reason, long Protocol, long Netns, string? NetnsName)>("SELECT id, site, function, reason, protocol, netns, netns_name FROM sites")
            .ToDictionary(s => s.Id, s => (s.Site, s.Function, s.Reason, s.Protocol, (uint)s.Netns, s.NetnsName));

    // The database hands back 64-bit integers (PostgreSQL's sums: numeric); these rows take them as they come and narrow them once.
    private sealed class BucketRow
    {
        public string Site { get; set; } = "";
        public string Function { get; set; } = "";
        public string? Reason { get; set; }
        public long StartMs { get; set; }
        public long Count { get; set; }
        public long Protocol { get; set; }
        public long Netns { get; set; }
        public string? NetnsName { get; set; }
        public DropBucket ToBucket() => new(Site, Function, Reason, StartMs, Count, (ushort)Protocol, (uint)Netns, NetnsName);
    }

    private sealed class CounterRow
    {
        public string Name { get; set; } = "";
        public long Delta { get; set; }
        public long AtMs { get; set; }
        public long Netns { get; set; }
        public CounterDelta ToDelta() => new(Name, Delta, AtMs, (uint)Netns);
    }

    private sealed class SiteRow
    {
        public string Function { get; set; } = "";
        public string Site { get; set; } = "";
        public string? Reason { get; set; }
        public long Protocol { get; set; }
        public long Count { get; set; }
        public long Netns { get; set; }
        public string? NetnsName { get; set; }
    }

    private sealed class SessionRow
    {
        public long Id { get; set; }
        public string Name { get; set; } = "";
        public string State { get; set; } = "";
        public string Origin { get; set; } = "";
        public long StartedMs { get; set; }
        public long? StoppedMs { get; set; }
        public string Notes { get; set; } = "";
        public string Hosts { get; set; } = "[]";
        public string Gaps { get; set; } = "[]";
        public long Drops { get; set; }
        public long Size { get; set; }

        public SessionInfo ToInfo() => new(Id, Name, State, Origin, StartedMs, StoppedMs, Notes,
            JsonSerializer.Deserialize(Hosts, SessionRowJson.Default.ListSessionHost)!,
            JsonSerializer.Deserialize(Gaps, SessionRowJson.Default.ListSessionGap)!, Drops, Size);
    }

    private sealed class HostRow
    {
        public long Key { get; set; }
        public string HostId { get; set; } = "";
        public string HostName { get; set; } = "";
        public string Kernel { get; set; } = "";
        public string Source { get; set; } = "";
        public long BucketMs { get; set; }
        public long LostRecords { get; set; }
    }

    private sealed class SampleRow
    {
        public long TimestampNs { get; set; }
        public string Site { get; set; } = "";
        public string Function { get; set; } = "";
        public string? Reason { get; set; }
        public long Protocol { get; set; }
        public string? InPort { get; set; }
        public long OriginalLength { get; set; }
        public byte[]? Header { get; set; }
        public DropSample ToSample() => new(TimestampNs, Site, Function, Reason, (ushort)Protocol, InPort, (int)OriginalLength, Header);
    }

    internal const string HostFilter = "SELECT id FROM session_hosts WHERE session_id = @id AND (@host IS NULL OR host_id = @host)";
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(List<SessionHost>))]
[JsonSerializable(typeof(List<SessionGap>))]
internal sealed partial class SessionRowJson : JsonSerializerContext;
