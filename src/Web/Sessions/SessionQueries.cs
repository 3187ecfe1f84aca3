using Dapper;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Live;

using DropBoard.Shared.Packets;
using DropBoard.Web.Views;

namespace DropBoard.Web.Sessions;

/// <summary>What the session pages and the API read. Histograms and time series come from the per-second sums.</summary>
public sealed class SessionQueries(SessionDatabase database, TimeProvider clock)
{
    /// <summary>Sessions with at most this many 10 ms rows are explained at full resolution; longer ones per second.</summary>
    private const int FineExplainRows = 300_000;

    private long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    public IReadOnlyList<SessionInfo> List(string? search = null, string sort = "newest")
    {
        using var connection = database.Connect();
        var ids = connection.Query<long>("SELECT id FROM sessions WHERE @search IS NULL OR name LIKE '%' || @search || '%' OR notes LIKE '%' || @search || '%'",
            new { search = string.IsNullOrWhiteSpace(search) ? null : search.Trim() });
        var sessions = ids.Select(id => Get(id)!).ToList();
        var now = Now;
        return sort switch
        {
            "oldest" => sessions.OrderBy(s => s.StartedMs).ToList(),
            "name" => sessions.OrderBy(s => s.Name, StringComparer.OrdinalIgnoreCase).ToList(),
            "drops" => sessions.OrderByDescending(s => s.Drops).ToList(),
            "size" => sessions.OrderByDescending(s => s.Rows).ToList(),
            "duration" => sessions.OrderByDescending(s => s.DurationMs(now)).ToList(),
            _ => sessions.OrderByDescending(s => s.StartedMs).ToList(),
        };
    }

    public SessionInfo? Get(long id)
    {
        using var connection = database.Connect();
        var row = connection.QuerySingleOrDefault<(long Id, string Name, string State, string Origin, long StartedMs, long? StoppedMs, string Notes)>(
            "SELECT id, name, state, origin, started_ms, stopped_ms, notes FROM sessions WHERE id = @id", new { id });
        if (row.Id == 0) return null;
        var hosts = connection.Query<HostRow>(
            """
            SELECT h.host_id AS HostId, h.host_name AS HostName, h.kernel AS Kernel, h.source AS Source, h.bucket_ms AS BucketMs,
                   h.lost_records AS LostRecords, h.drops AS Drops, h.bucket_rows AS BucketRows
            FROM session_hosts h WHERE h.session_id = @id ORDER BY h.host_name
            """, new { id }).ToList();
        var gaps = connection.Query<SessionGap>("SELECT from_ms AS FromMs, to_ms AS ToMs, why AS Why FROM gaps WHERE session_id = @id ORDER BY from_ms", new { id }).ToList();
        return new SessionInfo(row.Id, row.Name, row.State, row.Origin, row.StartedMs, row.StoppedMs, row.Notes,
            hosts.Select(h => h.ToHost()).ToList(), gaps, hosts.Sum(h => h.Drops), hosts.Sum(h => h.BucketRows));
    }

    /// <summary>Drops per site, reason and protocol of the view (host, drops, window [from, to)).</summary>
    public IReadOnlyList<SessionSite> Sites(long id, ViewRequest? view = null)
    {
        view ??= new ViewRequest();
        var (host, fromMs, toMs) = (view.Host, view.FromMs, view.ToMs);
        using var connection = database.Connect();
        return connection.Query<SiteRow>(
            $"""
            SELECT s.function AS Function, s.site AS Site, s.reason AS Reason, s.protocol AS Protocol, t.count AS Count,
                   s.netns AS Netns, s.netns_name AS NetnsName
            FROM (SELECT site, sum(count) AS count FROM seconds
                  WHERE session_host IN ({HostFilter}) AND (@from IS NULL OR second >= @from) AND (@to IS NULL OR second < @to)
                  GROUP BY site) t
            JOIN sites s ON s.id = t.site
            ORDER BY t.count DESC, s.site
            """, new { id, host, from = fromMs / 1000, to = toMs is null ? null : (toMs + 999) / 1000 })
            .Select(r => new SessionSite(r.Function, r.Site, r.Reason, (ushort)r.Protocol, r.Count, (uint)r.Netns, r.NetnsName))
            .Where(r => view.Drops.Matches(r.Site, r.Reason, EtherType.Name(r.Protocol), r.Netns))
            .ToList();
    }

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

    /// <summary>Drops per time step (seconds) of the top functions, the rest as "other".</summary>
    public TimeSeries DropsOverTime(long id, int stepSeconds, ViewRequest? view = null, int top = 8)
    {
        view ??= new ViewRequest();
        using var connection = database.Connect();
        var sites = SiteKeys(connection);
        var rows = connection.Query<(long Step, long Site, long Count)>(
            $"""
            SELECT second / @step, site, sum(count) FROM seconds
            WHERE session_host IN ({HostFilter}) AND (@from IS NULL OR second >= @from) AND (@to IS NULL OR second < @to)
            GROUP BY 1, 2
            """,
            new { id, host = view.Host, step = stepSeconds, from = view.FromMs / 1000, to = view.ToMs is null ? null : (view.ToMs + 999) / 1000 })
            .Where(r => view.Drops.Matches(sites[r.Site].Site, sites[r.Site].Reason, EtherType.Name((ushort)sites[r.Site].Protocol), sites[r.Site].Netns))
            .GroupBy(r => (r.Step, sites[r.Site].Function))
            .Select(g => (g.Key.Step, g.Key.Function, Count: g.Sum(r => r.Count)))
            .ToList();
        if (rows.Count == 0) return new TimeSeries([], []);
        var first = rows.Min(r => r.Step);
        var last = rows.Max(r => r.Step);
        var named = rows.GroupBy(r => r.Function).OrderByDescending(g => g.Sum(r => r.Count)).ThenBy(g => g.Key, StringComparer.Ordinal)
            .Take(top).Select(g => g.Key).ToList();
        var withOther = rows.Select(r => r.Function).Distinct().Count() > named.Count;
        var values = Enumerable.Range(0, named.Count + (withOther ? 1 : 0)).Select(_ => new long[last - first + 1]).ToArray();
        var index = named.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i);
        foreach (var r in rows)
            values[index.TryGetValue(r.Function, out var i) ? i : values.Length - 1][r.Step - first] += r.Count;
        var seconds = Enumerable.Range(0, (int)(last - first + 1)).Select(i => (first + i) * stepSeconds).ToArray();
        var series = named.Select((n, i) => new NamedSeries(n, values[i])).ToList();
        if (withOther) series.Add(new NamedSeries(LiveStore.Other, values[^1]));
        return new TimeSeries(seconds, series);
    }

    /// <summary>The session's buckets and counters for the explanation, at 10 ms when that is not too much, else per second.</summary>
    public (List<DropBucket> Drops, List<CounterDelta> Counters, int BucketMs, string? Kernel) ExplainInput(long id, ViewRequest? view = null)
    {
        view ??= new ViewRequest();
        var window = new { id, host = view.Host, from = view.FromMs, to = view.ToMs };
        using var connection = database.Connect();
        var kernel = connection.ExecuteScalar<string?>($"SELECT kernel FROM session_hosts WHERE id IN ({HostFilter}) ORDER BY id LIMIT 1", window);
        var bucketMs = connection.ExecuteScalar<int?>($"SELECT max(bucket_ms) FROM session_hosts WHERE id IN ({HostFilter})", window) ?? 10;
        var fine = connection.ExecuteScalar<long>($"SELECT coalesce(sum(bucket_rows), 0) FROM session_hosts WHERE id IN ({HostFilter})", window);
        var counters = connection.Query<CounterRow>(
            $"""
            SELECT name AS Name, delta AS Delta, at_ms AS AtMs, netns AS Netns FROM counters
            WHERE session_host IN ({HostFilter}) AND (@from IS NULL OR at_ms >= @from) AND (@to IS NULL OR at_ms < @to) ORDER BY at_ms
            """, window).Select(r => r.ToDelta()).ToList();
        if (fine <= FineExplainRows)
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
        var sites = SiteKeys(connection);
        var coarse = connection.Query<(long Second, long Site, long Count)>(
                $"""
                SELECT second, site, count FROM seconds
                WHERE session_host IN ({HostFilter}) AND (@from IS NULL OR second >= @from / 1000) AND (@to IS NULL OR second < (@to + 999) / 1000)
                """, window)
            .Select(r =>
            {
                var s = sites[r.Site];
                return new DropBucket(s.Site, s.Function, s.Reason, r.Second * 1000, r.Count, (ushort)s.Protocol, s.Netns, s.NetnsName);
            })
            .OrderBy(d => d.StartMs)
            .ToList();
        return (coarse, counters, Math.Max(1000, bucketMs), kernel);
    }

    /// <summary>Everything of a session, as DropBoard's own file (see <see cref="SessionFile"/>).</summary>
    public SessionFile? Export(long id)
    {
        if (Get(id) is not { } info) return null;
        using var connection = database.Connect();
        var hosts = new List<SessionFileHost>();
        foreach (var h in connection.Query<HostRow>(
                     "SELECT id AS Key, host_id AS HostId, host_name AS HostName, kernel AS Kernel, source AS Source, bucket_ms AS BucketMs, lost_records AS LostRecords FROM session_hosts WHERE session_id = @id ORDER BY id",
                     new { id }))
        {
            var key = h.Key;
            var drops = connection.Query<BucketRow>(
                "SELECT s.site AS Site, s.function AS Function, s.reason AS Reason, b.start_ms AS StartMs, b.count AS Count, s.protocol AS Protocol, s.netns AS Netns, s.netns_name AS NetnsName FROM buckets b JOIN sites s ON s.id = b.site WHERE b.session_host = @key ORDER BY b.start_ms, b.site",
                new { key }).Select(r => r.ToBucket()).ToList();
            var counters = connection.Query<CounterRow>("SELECT name AS Name, delta AS Delta, at_ms AS AtMs, netns AS Netns FROM counters WHERE session_host = @key ORDER BY rowid", new { key }).Select(r => r.ToDelta()).ToList();
            var samples = connection.Query<SampleRow>(
                "SELECT ts_ns AS TimestampNs, site AS Site, function AS Function, reason AS Reason, protocol AS Protocol, in_port AS InPort, original_length AS OriginalLength, header AS Header FROM samples WHERE session_host = @key ORDER BY rowid",
                new { key }).Select(r => r.ToSample()).ToList();
            var texts = connection.Query<(string Name, string Text)>("SELECT name, text FROM counter_texts WHERE session_host = @key ORDER BY name", new { key })
                .ToDictionary(t => t.Name, t => t.Text, StringComparer.Ordinal);
            hosts.Add(new SessionFileHost(h.HostId, h.HostName, h.Kernel, h.Source, (int)h.BucketMs, h.LostRecords, drops, counters, samples,
                texts.Count > 0 ? texts : null));
        }
        return new SessionFile(SessionFile.FormatName, 1, info.Name, info.Origin, info.StartedMs, info.StoppedMs, info.Notes, hosts, info.Gaps);
    }

    private static Dictionary<long, (string Site, string Function, string? Reason, long Protocol, uint Netns, string? NetnsName)> SiteKeys(Microsoft.Data.Sqlite.SqliteConnection connection) =>
        connection.Query<(long Id, string Site, string Function, string? Reason, long Protocol, long Netns, string? NetnsName)>("SELECT id, site, function, reason, protocol, netns, netns_name FROM sites")
            .ToDictionary(s => s.Id, s => (s.Site, s.Function, s.Reason, s.Protocol, (uint)s.Netns, s.NetnsName));

    // SQLite hands back 64-bit integers; these rows take them as they come and narrow them once.
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

    private sealed class HostRow
    {
        public long Key { get; set; }
        public string HostId { get; set; } = "";
        public string HostName { get; set; } = "";
        public string Kernel { get; set; } = "";
        public string Source { get; set; } = "";
        public long BucketMs { get; set; }
        public long LostRecords { get; set; }
        public long Drops { get; set; }
        public long BucketRows { get; set; }
        public SessionHost ToHost() => new(HostId, HostName, Kernel, Source, (int)BucketMs, LostRecords, Drops);
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

    private const string HostFilter = "SELECT id FROM session_hosts WHERE session_id = @id AND (@host IS NULL OR host_id = @host)";
}
