using System.Data.Common;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using DropBoard.Web.Sessions;
using DropBoard.Web.Views;
using Microsoft.Data.Sqlite;

namespace DropBoard.Web.Tests.Sessions;

/// <summary>
/// The per-second and per-minute sums of a real SQLite file and a real PostgreSQL database against the 10 ms rows they sum, and against the drops
/// sent, worked out here from the batches; and retention thinning a file out with every total left as it was.
/// </summary>
public sealed class RollupTests
{
    // 59.5 s into a minute: the batches cross minute and second edges.
    private const long Start = 1_700_000_039_500;

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task The_per_second_and_per_minute_sums_equal_the_10_ms_rows_and_the_drops_sent_in_every_view(string engine)
    {
        var database = SessionDatabase.Open(await StoreEngines.NewDatabaseAsync(engine));
        var store = new SessionStore(database, TimeProvider.System);
        var queries = new SessionQueries(database, TimeProvider.System);
        var id = store.Create("rollups", null);
        var sent = Batches(Start, hosts: 3, seconds: 150, seed: 5).ToList();
        var random = new Random(9);
        // Transactions of 1 to 40 batches, as the writer takes them from its queue; a resent batch is not counted again.
        for (var at = 0; at < sent.Count;)
        {
            var take = Math.Min(sent.Count - at, random.Next(1, 41));
            store.AppendAll(sent.Skip(at).Take(take).Select(b => new SessionWrite([id], b.Hello, b.Batch)).ToList());
            at += take;
        }
        store.AppendAll([new SessionWrite([id], sent[3].Hello, sent[3].Batch)]);
        var drops = sent.SelectMany(b => b.Batch.Drops).ToList();
        var total = drops.Sum(d => d.Count);

        using (var connection = database.Connect())
        {
            var buckets = connection.Query<(long Host, long StartMs, long Site, long Count)>("SELECT session_host, start_ms, site, count FROM buckets").ToList();
            Assert.Equal(total, buckets.Sum(b => b.Count));
            Assert.Equal(Sums(buckets, Rollup.SecondMs), Table(connection, "seconds", "second"));
            Assert.Equal(Sums(buckets, Rollup.TenSecondsMs), Table(connection, "tens", "ten"));
            Assert.Equal(Sums(buckets, Rollup.MinuteMs), Table(connection, "minutes", "minute"));
        }
        Assert.Equal(total, queries.Get(id)!.Drops);
        Assert.Equal(BySite(drops), queries.Sites(id).ToDictionary(s => s.Site, s => s.Count));

        // A window off every minute and second edge is widened to whole seconds, as before there were minutes.
        var (from, to) = (Start + 30_250, Start + 131_700);
        var inWindow = drops.Where(d => d.StartMs >= Rollup.Floor(from, 1000) * 1000 && d.StartMs < Rollup.Ceiling(to, 1000) * 1000).ToList();
        Assert.Equal(BySite(inWindow), queries.Sites(id, new ViewRequest(FromMs: from, ToMs: to)).ToDictionary(s => s.Site, s => s.Count));
        Assert.Equal(BySite(drops.Where(d => d.StartMs >= Start + 20_500 && d.StartMs < Start + 21_500)),
            queries.Sites(id, new ViewRequest(FromMs: Start + 20_500, ToMs: Start + 21_500)).ToDictionary(s => s.Site, s => s.Count));

        // Over time: per minute from the minutes, per 10 s from the seconds; each step holds the drops sent in it.
        foreach (var step in new[] { 60, 10 })
        {
            var series = queries.DropsOverTime(id, step, top: 3);
            var perStep = series.Seconds.Select((second, i) => (second, series.Series.Sum(s => s.Values[i]))).Where(s => s.Item2 > 0).ToList();
            var expected = drops.GroupBy(d => Rollup.Floor(d.StartMs, step * 1000L) * step).Select(g => (g.Key, g.Sum(d => d.Count))).Order().ToList();
            Assert.Equal(expected, perStep);
            Assert.Equal(4, series.Series.Count); // the top 3 and "other"
        }
        var windowed = queries.DropsOverTime(id, 60, new ViewRequest(FromMs: from, ToMs: to));
        Assert.Equal(inWindow.Sum(d => d.Count), windowed.Series.Sum(s => s.Values.Sum()));

        var explain = queries.ExplainInput(id);
        Assert.Equal((total, 10), (explain.Drops.Sum(d => d.Count), explain.BucketMs));
    }

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task Each_function_s_drops_over_time_in_5_10_and_60_s_steps_are_the_sums_of_its_10_ms_rows_of_the_view(string engine)
    {
        var database = SessionDatabase.Open(await StoreEngines.NewDatabaseAsync(engine));
        var store = new SessionStore(database, TimeProvider.System);
        var queries = new SessionQueries(database, TimeProvider.System);
        var id = store.Create("over time", null);
        foreach (var part in Batches(Start, hosts: 2, seconds: 150, seed: 11).Chunk(25))
            store.AppendAll(part.Select(b => new SessionWrite([id], b.Hello, b.Batch)).ToList());
        // A site id far above the others (SQLite gives the next ones after it), then a third host whose sites are new
        // ones of the same functions: a function sums several sites, some of them looked up past the dense ids.
        using (var connection = database.Connect())
            connection.Execute("INSERT INTO sites (id, site, function, reason, protocol) VALUES (50000000, 'far+0x1', 'far', NULL, 0)");
        var late = Batches(Start + 7_300, hosts: 1, seconds: 120, seed: 12).Select(b => (b.Hello with { HostId = "edge-late", HostName = "edge-late" },
            b.Batch with { HostId = "edge-late", Drops = b.Batch.Drops.Select(d => d with { Site = d.Site + "_late" }).ToList() }));
        foreach (var part in late.Chunk(25))
            store.AppendAll(part.Select(b => new SessionWrite([id], b.Item1, b.Item2)).ToList());

        List<(string Host, long StartMs, DropBucket Drop)> rows;
        using (var connection = database.Connect())
            rows = connection.Query<(string Host, long StartMs, string Site, string Function, string? Reason, long Count)>(
                    "SELECT h.host_id, b.start_ms, s.site, s.function, s.reason, b.count FROM buckets b JOIN sites s ON s.id = b.site JOIN session_hosts h ON h.id = b.session_host")
                .Select(r => (r.Host, r.StartMs, new DropBucket(r.Site, r.Function, r.Reason, r.StartMs, r.Count))).ToList();
        Assert.Contains(rows, r => r.Drop.Site.EndsWith("_late", StringComparison.Ordinal));

        var filter = new DropFilter(Reason: "SOCKET_RCVBUFF");
        var views = new[]
        {
            new ViewRequest(Filter: filter),
            // Off every 10 s edge, one host: the window is widened to whole seconds.
            new ViewRequest(Host: "edge-late", Filter: filter, FromMs: Start + 12_345, ToMs: Start + 104_567),
            new ViewRequest(FromMs: Start + 3_999, ToMs: Start + 88_001),
        };
        foreach (var view in views)
            foreach (var step in new[] { 5, 10, 60 })
            {
                var from = view.FromMs is { } f ? Rollup.Floor(f, 1000) * 1000 : long.MinValue;
                var to = view.ToMs is { } t ? Rollup.Ceiling(t, 1000) * 1000 : long.MaxValue;
                var inView = rows.Where(r => (view.Host is null || r.Host == view.Host) && view.Drops.Matches(r.Drop) && r.StartMs >= from && r.StartMs < to).ToList();
                var perStep = inView.GroupBy(r => (Step: Rollup.Floor(r.StartMs, step * 1000L), r.Drop.Function)).ToDictionary(g => g.Key, g => g.Sum(r => r.Drop.Count));
                var totals = perStep.GroupBy(p => p.Key.Function).Select(g => (Function: g.Key, Total: g.Sum(p => p.Value))).ToList();
                var top = totals.OrderByDescending(t => t.Total).ThenBy(t => t.Function, StringComparer.Ordinal).Take(3).Select(t => t.Function).ToList();
                var (first, last) = (perStep.Keys.Min(k => k.Step), perStep.Keys.Max(k => k.Step));
                var steps = Enumerable.Range(0, (int)(last - first + 1)).Select(i => first + i).ToArray();
                long Sum(long step, Func<string, bool> function) => perStep.Where(p => p.Key.Step == step && function(p.Key.Function)).Sum(p => p.Value);
                var expected = top.Select(name => $"{name}: {string.Join(",", steps.Select(s => Sum(s, f => f == name)))}").ToList();
                if (totals.Count > top.Count) expected.Add($"{TimeSeries.Other}: {string.Join(",", steps.Select(s => Sum(s, f => !top.Contains(f))))}");

                var series = queries.DropsOverTime(id, step, view, top: 3);

                Assert.Equal(steps.Select(s => s * step).ToArray(), series.Seconds);
                Assert.Equal(expected, series.Series.Select(s => $"{s.Name}: {string.Join(",", s.Values)}").ToList());
            }
    }

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task Retention_thins_out_old_rows_and_every_total_and_the_session_page_stay_as_they_were(string engine)
    {
        var path = await StoreEngines.NewDatabaseAsync(engine);
        var database = SessionDatabase.Open(path);
        var store = new SessionStore(database, TimeProvider.System);
        var queries = new SessionQueries(database, TimeProvider.System);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var settings = new RetentionSettings(BucketDays: 7, SecondDays: 90);
        var day = 86_400_000L;
        // Past the seconds' 90 days, past the 10 ms rows' 7 days, and an hour old.
        var ids = new[] { ("a quarter ago", now - 100 * day), ("last week", now - 10 * day), ("an hour ago", now - 3_600_000) }
            .Select((s, i) => store.Import(File(s.Item1, s.Item2 + 20_500, seed: i))).ToList();
        var before = ids.Select(id => Read(queries, id)).ToList();
        var rows = Rows(database);

        var (bucketsBefore, secondsBefore) = settings.Cuts(now);
        var removed = store.Thin(bucketsBefore, secondsBefore);

        var after = Rows(database);
        Assert.Equal((0L, 0L, 0L, rows[ids[0]].Minutes), after[ids[0]]);
        Assert.Equal((0L, rows[ids[1]].Seconds, rows[ids[1]].Tens, rows[ids[1]].Minutes), after[ids[1]]);
        Assert.Equal(rows[ids[2]], after[ids[2]]);
        Assert.Equal(rows[ids[0]].Buckets + rows[ids[0]].Seconds + rows[ids[0]].Tens + rows[ids[1]].Buckets, removed);
        for (var i = 0; i < ids.Count; i++) Assert.Equal(before[i], Read(queries, ids[i]));
        Assert.Equal(new[] { 60_000, 1000, 10 }, ids.Select(id => queries.ExplainInput(id).BucketMs));
        Assert.Equal(0L, store.Thin(bucketsBefore, secondsBefore));

        // A new process on the thinned file shows the old session whole, on its page and in its API.
        SqliteConnection.ClearAllPools();
        await using var app = await WebAppProcess.StartAsync($"DropBoard:Database={path}", "DropBoard:EmbeddedAgent=false");
        foreach (var (id, totals) in ids.Zip(before))
        {
            var page = await app.Http.GetStringAsync($"sessions/{id}");
            Assert.Equal(totals.Drops.ToString("N0", System.Globalization.CultureInfo.InvariantCulture),
                Regex.Match(page, @"Drops by site <span class=""muted""[^>]*>([\d,]+)</span>").Groups[1].Value);
            var sites = (await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/sites")).EnumerateArray()
                .ToDictionary(s => s.GetProperty("site").GetString()!, s => s.GetProperty("count").GetInt64());
            Assert.Equal(totals.Sites, sites);
        }
    }

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task A_hosts_row_count_is_its_10_ms_rows_stored_a_bucket_in_parts_counted_once_and_none_left_after_retention(string engine)
    {
        var database = SessionDatabase.Open(await StoreEngines.NewDatabaseAsync(engine));
        var store = new SessionStore(database, TimeProvider.System);
        var queries = new SessionQueries(database, TimeProvider.System);
        var id = store.Create("rows", null);
        var sent = Batches(Start, hosts: 2, seconds: 20, seed: 3).ToList();
        var random = new Random(4);
        // Parts of a bucket in one batch, in batches of one transaction (1 to 40), and in another transaction: the rest
        // of each host's earlier buckets sent again under new sequence numbers, as an agent splits a bucket at a sample.
        for (var at = 0; at < sent.Count;)
        {
            var take = Math.Min(sent.Count - at, random.Next(1, 41));
            store.AppendAll(sent.Skip(at).Take(take).Select(b => new SessionWrite([id], b.Hello, b.Batch)).ToList());
            at += take;
        }
        foreach (var (hello, batch) in sent.Where(b => b.Batch.Sequence <= 8))
            store.AppendAll([new SessionWrite([id], hello, batch with { Sequence = batch.Sequence + 1000, Drops = batch.Drops.Select(d => d with { Count = 1 }).ToList() })]);

        (long Counted, long Stored)[] Rows()
        {
            using var connection = database.Connect();
            return connection.Query<(long, long)>("SELECT bucket_rows, (SELECT count(*) FROM buckets WHERE session_host = h.id) FROM session_hosts h ORDER BY id").ToArray();
        }
        var rows = Rows();
        Assert.Equal(2, rows.Length);
        Assert.All(rows, r => Assert.Equal(r.Stored, r.Counted));
        Assert.True(rows.Sum(r => r.Stored) < sent.Sum(b => b.Batch.Drops.Count), "no bucket came in parts");
        Assert.Equal(rows.Sum(r => r.Stored), queries.Get(id)!.Rows);

        // Retention removes every 10 ms row (PostgreSQL: their day's partition), and the count goes with them.
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        Assert.Equal(rows.Sum(r => r.Stored), store.Thin(Rollup.Ceiling(now, Rollup.SecondMs) * Rollup.SecondMs, Rollup.Floor(Start, Rollup.MinuteMs) * Rollup.MinuteMs));
        Assert.All(Rows(), r => Assert.Equal((0L, 0L), r));
        Assert.Equal(0, queries.Get(id)!.Rows);
    }

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task A_chart_in_seconds_that_would_read_more_than_a_million_per_second_rows_is_drawn_in_minutes_with_the_same_drops(string engine)
    {
        var database = SessionDatabase.Open(await StoreEngines.NewDatabaseAsync(engine));
        var store = new SessionStore(database, TimeProvider.System);
        var queries = new SessionQueries(database, TimeProvider.System);
        // 200 hosts x 50 sites x 2 minutes: 20,000 minute rows, so up to 1.2 million per-second rows.
        var hosts = Enumerable.Range(0, 200).Select(h => new SessionFileHost($"edge-{h}", $"edge-{h}", "6.18.0", "tracepoint", 10, 0,
            Enumerable.Range(0, 50).SelectMany(s => new[] { Start + 500 + s * 10, Start + 60_500 + s * 10 }
                .Select(t => new DropBucket($"fn_{s}+0x1", $"fn_{s}", null, t, h + 1))).ToList(), [], [])).ToList();
        var id = store.Import(new SessionFile(SessionFile.FormatName, 1, "fleet", "live", Start, Start + 120_000, "", hosts, []));
        var total = hosts.Sum(h => h.Drops.Sum(d => d.Count));

        var chart = queries.DropsOverTime(id, 1);

        Assert.Equal(new[] { Rollup.Floor(Start, 60_000) * 60 + 60, Rollup.Floor(Start, 60_000) * 60 + 120 }, chart.Seconds);
        Assert.Equal(total, chart.Series.Sum(s => s.Values.Sum()));
        // One host's chart is still in seconds: every second from the first drops to the last, a minute later.
        Assert.Equal(61, queries.DropsOverTime(id, 1, new ViewRequest(Host: "edge-7")).Seconds.Length);
    }

    internal sealed record Totals(long Drops, Dictionary<string, long> Sites, long OverTime, long Exported, long Explained, string Counters)
    {
        public bool Equals(Totals? other) => other is not null && (Drops, OverTime, Exported, Explained, Counters) == (other.Drops, other.OverTime, other.Exported, other.Explained, other.Counters)
                                             && Sites.OrderBy(s => s.Key).SequenceEqual(other.Sites.OrderBy(s => s.Key));

        public override int GetHashCode() => Drops.GetHashCode();
    }

    internal static Totals Read(SessionQueries queries, long id) => new(
        queries.Get(id)!.Drops,
        queries.Sites(id).ToDictionary(s => s.Site, s => s.Count),
        queries.DropsOverTime(id, 5).Series.Sum(s => s.Values.Sum()),
        queries.Export(id)!.Hosts.Sum(h => h.Drops.Sum(d => d.Count)),
        queries.ExplainInput(id).Drops.Sum(d => d.Count),
        string.Join(",", queries.Counters(id).Select(c => $"{c.Name}={c.Delta}")));

    private static Dictionary<long, (long Buckets, long Seconds, long Tens, long Minutes)> Rows(SessionDatabase database)
    {
        using var connection = database.Connect();
        long Count(string table, long id) => connection.ExecuteScalar<long>(
            $"SELECT count(*) FROM {table} WHERE session_host IN (SELECT id FROM session_hosts WHERE session_id = @id)", new { id });
        return connection.Query<long>("SELECT id FROM sessions").ToDictionary(id => id, id => (Count("buckets", id), Count("seconds", id), Count("tens", id), Count("minutes", id)));
    }

    internal static SessionFile File(string name, long start, int seed)
    {
        var batches = Batches(start, hosts: 2, seconds: 130, seed).ToList();
        var hosts = batches.GroupBy(b => b.Hello.HostId).Select(g => new SessionFileHost(g.Key, g.Key, "6.18.0", "tracepoint", 10, 0,
            g.SelectMany(b => b.Batch.Drops).ToList(), g.SelectMany(b => b.Batch.Counters).ToList(), [])).ToList();
        return new SessionFile(SessionFile.FormatName, 1, name, "live", start - 500, start + 130_000, "", hosts, []);
    }

    /// <summary>A batch every 250 ms from each host: 10 ms buckets at some of 12 sites, a bucket in two parts now and then, a counter a second.</summary>
    private static IEnumerable<(AgentHello Hello, AgentBatch Batch)> Batches(long start, int hosts, int seconds, int seed)
    {
        var random = new Random(seed);
        for (var h = 0; h < hosts; h++)
        {
            var hello = new AgentHello($"edge-{h}", $"edge-{h}", "6.18.0", "tracepoint", "test", 10, $"instance-{h}");
            var sequence = 0L;
            for (var at = start; at < start + seconds * 1000L; at += 250)
            {
                var drops = new List<DropBucket>();
                for (var t = at; t < at + 250; t += 10)
                    if (random.Next(4) == 0)
                    {
                        var s = random.Next(12);
                        var bucket = new DropBucket($"fn_{s}+0x{s:x}", $"fn_{s}", s % 2 == 0 ? "SOCKET_RCVBUFF" : null, t, random.Next(1, 30));
                        drops.Add(bucket);
                        if (random.Next(10) == 0) drops.Add(bucket with { Count = 1 });
                    }
                var counters = (at - start) % 1000 == 0 ? new[] { new CounterDelta("Udp.RcvbufErrors", random.Next(100), at) } : [];
                yield return (hello, new AgentBatch(hello.HostId, ++sequence, at + 250, drops, counters, [], 0, 0));
            }
        }
    }

    private static Dictionary<string, long> BySite(IEnumerable<DropBucket> drops) => drops.GroupBy(d => d.Site).ToDictionary(g => g.Key, g => g.Sum(d => d.Count));

    private static Dictionary<(long, long, long), long> Sums(IEnumerable<(long Host, long StartMs, long Site, long Count)> buckets, long unitMs) =>
        buckets.GroupBy(b => (b.Host, Rollup.Floor(b.StartMs, unitMs), b.Site)).ToDictionary(g => g.Key, g => g.Sum(b => b.Count));

    private static Dictionary<(long, long, long), long> Table(DbConnection connection, string table, string time) =>
        connection.Query<(long Host, long At, long Site, long Count)>($"SELECT session_host, {time}, site, count FROM {table}")
            .ToDictionary(r => (r.Host, r.At, r.Site), r => r.Count);
}
