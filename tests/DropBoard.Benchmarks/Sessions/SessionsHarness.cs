using Dapper;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Sessions;
using Microsoft.Data.Sqlite;

namespace DropBoard.Benchmarks.Sessions;

/// <summary>
/// Sessions on a real SQLite file: recording rate through <see cref="SessionStore.AppendAll"/> (10 ms bucket rows
/// per second, with their per-second and per-minute sums, against plain prepared INSERTs of the same rows in the same
/// transactions), for one host's hour (16 batches a transaction) and for a fleet as the soak makes it (200 hosts x 200
/// sites, a batch every 250 ms each: 800 batches a second, 200 a transaction); then, on two recorded one-hour
/// sessions of 200 active sites at 10 ms buckets (each site drops in 2% of its buckets: 1.44 million rows a session),
/// the histogram, compare, drops-over-time and explain-input queries, against one plain scan summing the session's
/// 10 ms rows.
/// Times are the process's CPU time, not wall time: on a shared machine the wall clock measures the neighbours.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- sessions</c>.
/// </summary>
internal static class SessionsHarness
{
    private const int Sites = 200, BucketMs = 10, BatchMs = 250, HourPerTransaction = 16;
    private const int FleetHosts = 200, FleetSeconds = 5, FleetPerTransaction = 200;
    private const long HourMs = 3_600_000;

    public static int Run(string[] args)
    {
        var fleetOnly = args is [_, "fleet", ..];
        var directory = Directory.CreateTempSubdirectory("dropboard-sessions-bench-");
        try
        {
            var database = SessionDatabase.Open(Path.Combine(directory.FullName, "bench.db"));
            var store = new SessionStore(database, TimeProvider.System);
            var queries = new SessionQueries(database, TimeProvider.System);

            if (fleetOnly)
            {
                RecordFleet(database, store);
                return 0;
            }
            var (a, rowsA, secondsA) = Record(store, "hour A", Batches("bench-host", seed: 1).Chunk(HourPerTransaction).ToList());
            var (b, _, _) = Record(store, "hour B", Batches("bench-host", seed: 2).Chunk(HourPerTransaction).ToList());
            var plainSeconds = PlainInserts(database, Batches("bench-host", seed: 1).Chunk(HourPerTransaction));
            Console.WriteLine($"recording one host's hour: {rowsA:N0} bucket rows in {secondsA:F2} CPU s = {rowsA / secondsA:N0} rows/s; " +
                              $"plain INSERTs of the same rows {rowsA / plainSeconds:N0} rows/s; store / plain = {plainSeconds / secondsA:F2}");

            PrintSize(database);

            RecordFleet(database, store);

            var scan = Time(() => { using var c = database.Connect(); return c.ExecuteScalar<long>("SELECT sum(count) FROM buckets WHERE session_host IN (SELECT id FROM session_hosts WHERE session_id = @a)", new { a }); });
            var histogram = Time(() => queries.Sites(a).Count);
            var compare = Time(() => SessionCompare.Run(queries, a, b)!.Functions.Count);
            var step = SessionView.Step(TimeSpan.FromMilliseconds(HourMs));
            var overTime = Time(() => queries.DropsOverTime(a, step).Seconds.Length);
            var overTimeMinutes = Time(() => queries.DropsOverTime(a, 60).Seconds.Length);
            var explainInput = queries.ExplainInput(a);
            var explain = Time(() => queries.ExplainInput(a).Drops.Count);
            var view = Time(() => SessionView.Build(queries, a)!.Rows.Count);
            Console.WriteLine($"{"query (1 h, 200 sites, 10 ms)",-38} {"CPU ms (median of 5)",20} {"vs plain scan",14}");
            foreach (var (name, ms) in new[] { ("plain scan of the 10 ms rows", scan), ("histogram (sites)", histogram), ("compare two sessions", compare),
                         ($"drops over time ({step} s steps, as the page)", overTime), ("drops over time (1 min steps)", overTimeMinutes),
                         ($"explain input ({explainInput.Drops.Count:N0} rows of {explainInput.BucketMs / 1000} s)", explain), ("the session page's whole view", view) })
                Console.WriteLine($"{name,-38} {ms,20:F1} {ms / scan,14:F2}");
            return 0;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }
    }

    private static void RecordFleet(SessionDatabase database, SessionStore store)
    {
        var fleet = Fleet().Chunk(FleetPerTransaction).ToList();
        var (_, fleetRows, fleetSeconds) = Record(store, "fleet", fleet);
        var fleetPlain = PlainInserts(database, fleet);
        var fleetBatches = fleet.Sum(t => t.Length);
        Console.WriteLine($"recording a fleet ({FleetHosts} hosts x {Sites} sites, {FleetHosts * 4} batches/s made): {fleetBatches:N0} batches ({fleetRows:N0} rows) in {fleetSeconds:F2} CPU s = " +
                          $"{fleetBatches / fleetSeconds:N0} batches/s, {fleetBatches / fleetSeconds / (FleetHosts * 4):F2}x what the fleet makes; " +
                          $"plain INSERTs of the same rows {fleetBatches / fleetPlain:N0} batches/s; store / plain = {fleetPlain / fleetSeconds:F2}");
    }

    private static IEnumerable<(AgentHello Hello, AgentBatch Batch)> Batches(string host, int seed)
    {
        var hello = new AgentHello(host, host, "6.18.0", "tracepoint", "bench", BucketMs, $"run-{seed}");
        var random = new Random(seed);
        var sequence = 0L;
        var buckets = new List<DropBucket>();
        for (var start = 0L; start < HourMs; start += BatchMs)
        {
            buckets.Clear();
            for (var s = 0; s < Sites; s++)
                for (var t = start; t < start + BatchMs; t += BucketMs)
                    if (random.Next(50) == 0)
                        buckets.Add(new DropBucket($"site_fn_{s}+0x{s * 16:x}", $"site_fn_{s}", s % 3 == 0 ? "SOCKET_RCVBUFF" : "NO_SOCKET", 1_700_000_000_000 + t, random.Next(1, 4), 0x0800));
            var counters = start % 1000 == 0 ? new[] { new CounterDelta("Udp.RcvbufErrors", random.Next(50), 1_700_000_000_000 + start) } : [];
            yield return (hello, new AgentBatch(host, ++sequence, start, [.. buckets], counters, [], 0, 0));
        }
    }

    /// <summary>A batch every 250 ms from each host, one bucket at each site in it, 20 counters, as the soak's agents make them.</summary>
    private static IEnumerable<(AgentHello Hello, AgentBatch Batch)> Fleet()
    {
        var random = new Random(3);
        var hellos = Enumerable.Range(0, FleetHosts).Select(h => new AgentHello($"fleet-{h:D3}", $"fleet-{h:D3}", "6.18.0", "tracepoint", "bench", BucketMs, $"fleet-{h}")).ToList();
        var sequence = 0L;
        for (var start = 0L; start < FleetSeconds * 1000L; start += BatchMs)
        {
            sequence++;
            foreach (var hello in hellos)
            {
                var now = 1_700_000_000_000 + start + random.Next(BatchMs);
                var drops = Enumerable.Range(0, Sites).Select(s => new DropBucket($"site_function_{s:D3}+0x{s * 16:x}", $"site_function_{s:D3}",
                    s % 3 == 0 ? "SOCKET_RCVBUFF" : "NO_SOCKET", (now - random.Next(BatchMs)) / 10 * 10, random.Next(1, 50), 0x0800)).ToArray();
                var counters = Enumerable.Range(0, 20).Select(i => new CounterDelta($"Udp.Counter{i}", random.Next(100), now)).ToArray();
                yield return (hello, new AgentBatch(hello.HostId, sequence, now, drops, counters, [], 0, 0));
            }
        }
    }

    private static (long Id, long Rows, double Seconds) Record(SessionStore store, string name, List<(AgentHello Hello, AgentBatch Batch)[]> transactions)
    {
        var id = store.Create(name, null);
        var clock = CpuClock.Start();
        foreach (var transaction in transactions)
            store.AppendAll(transaction.Select(w => new SessionWrite([id], w.Hello, w.Batch)).ToList());
        return (id, transactions.Sum(t => t.Sum(w => (long)w.Batch.Drops.Count)), clock.Seconds);
    }

    private static double PlainInserts(SessionDatabase database, IEnumerable<(AgentHello Hello, AgentBatch Batch)[]> transactions)
    {
        using var connection = database.Connect();
        connection.Execute("DROP TABLE IF EXISTS plain; CREATE TABLE plain (host INTEGER, site INTEGER, start_ms INTEGER, count INTEGER)");
        var batches = transactions.ToList();
        var clock = CpuClock.Start();
        foreach (var batch in batches)
        {
            using var transaction = connection.BeginTransaction();
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO plain VALUES (1, $site, $start, $count)";
            var (site, start, count) = (insert.Parameters.Add("$site", SqliteType.Integer), insert.Parameters.Add("$start", SqliteType.Integer), insert.Parameters.Add("$count", SqliteType.Integer));
            insert.Prepare();
            foreach (var d in batch.SelectMany(w => w.Batch.Drops))
            {
                site.Value = d.Function.Length;
                start.Value = d.StartMs;
                count.Value = d.Count;
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        return clock.Seconds;
    }

    /// <summary>
    /// Bytes a host-day takes at each resolution, from the two hours recorded: each table (with its indexes) copied
    /// alone into a new SQLite file, whose size is measured; and what a year of one host takes under the default
    /// retention (10 ms rows 7 days, per second to 90 days, then per minute).
    /// </summary>
    private static void PrintSize(SessionDatabase database)
    {
        double Day(string table)
        {
            var path = Path.Combine(Path.GetDirectoryName(database.Path)!, $"size-{table}.db");
            using var connection = database.Connect();
            connection.Execute("PRAGMA foreign_keys = OFF");
            connection.Execute($"ATTACH DATABASE '{path}' AS size");
            foreach (var sql in connection.Query<string>("SELECT sql FROM sqlite_master WHERE tbl_name = @table AND sql IS NOT NULL ORDER BY type DESC", new { table }))
                // A table renamed by a migration is named in quotes.
                connection.Execute(System.Text.RegularExpressions.Regex.Replace(sql, $@"^CREATE TABLE ""?{table}""?", $"CREATE TABLE size.{table}").Replace("CREATE INDEX ", "CREATE INDEX size."));
            connection.Execute($"INSERT INTO size.{table} SELECT * FROM main.{table}");
            connection.Execute("DETACH DATABASE size");
            return new FileInfo(path).Length * 24 / 2.0;
        }
        var (buckets, seconds, minutes, counters) = (Day("buckets"), Day("seconds"), Day("minutes"), Day("counters"));
        var retention = new RetentionSettings();
        var year = retention.BucketDays * (buckets + seconds + minutes) + (retention.SecondDays - retention.BucketDays) * (seconds + minutes) + (365 - retention.SecondDays) * minutes;
        Console.WriteLine($"size per host-day at {Sites} active sites: 10 ms rows {buckets / 1e6:F0} MB, per second {seconds / 1e6:F0} MB, per minute {minutes / 1e6:F1} MB, counters (1 a second) {counters / 1e6:F1} MB; " +
                          $"a year of one host kept {retention.BucketDays} d at 10 ms, to {retention.SecondDays} d per second, then per minute: {year / 1e9:F1} GB of drops " +
                          $"(+ {365 * counters / 1e9:F1} GB of counters at this rate); 200 hosts: {200 * year / 1e9:F0} GB");
    }

    private static double Time(Func<long> query)
    {
        query();
        var times = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var clock = CpuClock.Start();
            query();
            times.Add(clock.Seconds * 1000);
        }
        return times.Order().ElementAt(2);
    }

    /// <summary>CPU time of this process (every thread: SQLite, the GC, compare's two sides), in nanoseconds.</summary>
    private readonly struct CpuClock
    {
        private readonly long _start;

        private CpuClock(long start) => _start = start;

        public static CpuClock Start() => new(Now());

        public double Seconds => (Now() - _start) / 1e9;

        private static long Now()
        {
            clock_gettime(2 /* CLOCK_PROCESS_CPUTIME_ID */, out var time);
            return time.Seconds * 1_000_000_000 + time.Nanoseconds;
        }

        [System.Runtime.InteropServices.DllImport("libc")]
        private static extern int clock_gettime(int clock, out TimeSpec time);

        private struct TimeSpec
        {
            public long Seconds;
            public long Nanoseconds;
        }
    }
}
