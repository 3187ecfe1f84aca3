using System.Data.Common;
using Dapper;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using DropBoard.Web.Sessions;
using DropBoard.Web.Sessions.Storage;
using Microsoft.Data.Sqlite;

namespace DropBoard.Benchmarks.Sessions;

/// <summary>
/// Sessions on a real SQLite file and on a real PostgreSQL (a throw-away cluster, PostgreSQL's durable defaults but
/// commits not waited for, as DropBoard's SQLite in WAL with <c>synchronous = NORMAL</c>), in the same run: recording rate through <see cref="SessionStore.AppendAll"/> (10 ms bucket rows
/// per second, with their per-second, per-10-second and per-minute sums, against plain prepared INSERTs of the same rows in the same
/// transactions), for one host's hour (16 batches a transaction) and for a fleet as the soak makes it (200 hosts x 200
/// sites, a batch every 250 ms each: 800 batches a second, 200 a transaction, and as many as the writer takes when
/// behind; with the writer's thread's own CPU time and the WAL's largest size); then, on two recorded one-hour
/// sessions of 200 active sites at 10 ms buckets (each site drops in 2% of its buckets: 1.44 million rows a session),
/// the histogram, compare, drops-over-time and explain-input queries, against one plain scan summing the session's
/// 10 ms rows.
/// Times are CPU time, not wall time (on a shared machine the wall clock measures the neighbours): this process's, and
/// on PostgreSQL the server's too (its backends and helpers); then each figure of PostgreSQL against SQLite's.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- sessions [fleet] [sqlite|postgres]</c>.
/// </summary>
internal static class SessionsHarness
{
    private const int Sites = 200, BucketMs = 10, BatchMs = 250, HourPerTransaction = 16;
    // FleetBehind: as many batches a transaction as the writer takes when it is behind (SessionWriter.MaxPerTransaction).
    private const int FleetHosts = 200, FleetSeconds = 15, FleetPerTransaction = 200, FleetBehind = 1024;
    private const long HourMs = 3_600_000;

    // The largest the SQLite file's write-ahead log grew while recording.
    private static long _walPeak;

    public static async Task<int> RunAsync(string[] args)
    {
        Console.WriteLine($"machine load (uptime): {File.ReadAllText("/proc/loadavg").Trim()} on {Environment.ProcessorCount} cores");
        // "fleet": the fleet's recording rate alone, on SQLite unless an engine is named.
        var fleetOnly = args is [_, "fleet", ..];
        var named = args[(fleetOnly ? 2 : 1)..];
        var engines = named.Length > 0 ? named : fleetOnly ? ["sqlite"] : ["sqlite", "postgres"];
        var results = new List<(string Engine, List<(string Figure, double Value)> Figures)>();
        if (engines.Contains("sqlite"))
        {
            var directory = Directory.CreateTempSubdirectory("dropboard-sessions-bench-");
            try
            {
                results.Add(("SQLite", Measure(SessionDatabase.Open(Path.Combine(directory.FullName, "bench.db")), ProcessCpu, fleetOnly)));
            }
            finally
            {
                SqliteConnection.ClearAllPools();
                directory.Delete(recursive: true);
            }
        }
        if (engines.Contains("postgres"))
        {
            await using var server = await PostgresServer.StartAsync(durable: true);
            results.Add(("PostgreSQL", Measure(SessionDatabase.Open(server.NewDatabase()), () => ProcessCpu() + ServerCpu(server.ProcessId), fleetOnly)));
        }
        if (results.Count == 2)
        {
            Console.WriteLine($"{"",-48} {results[0].Engine,12} {results[1].Engine,12} {"ratio",8}");
            foreach (var ((figure, baseline), (_, value)) in results[0].Figures.Zip(results[1].Figures))
                Console.WriteLine($"{figure,-48} {baseline,12:N1} {value,12:N1} {value / baseline,8:F2}");
        }
        Console.WriteLine($"machine load (uptime): {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    /// <returns>Each figure, for the comparison of engines.</returns>
    private static List<(string Figure, double Value)> Measure(SessionDatabase database, Func<double> cpu, bool fleetOnly)
    {
        Console.WriteLine($"== {database.Path}");
        var store = new SessionStore(database, TimeProvider.System);
        var queries = new SessionQueries(database, TimeProvider.System);
        if (fleetOnly) return [("fleet, batches/s", RecordFleet(database, store, cpu, FleetPerTransaction)), ("fleet, behind, batches/s", RecordFleet(database, store, cpu, FleetBehind))];

        var (a, rowsA, secondsA) = Record(store, cpu, "hour A", Batches("bench-host", seed: 1).Chunk(HourPerTransaction).ToList());
        var (b, _, _) = Record(store, cpu, "hour B", Batches("bench-host", seed: 2).Chunk(HourPerTransaction).ToList());
        var plainSeconds = PlainInserts(database, cpu, Batches("bench-host", seed: 1).Chunk(HourPerTransaction));
        Console.WriteLine($"recording one host's hour: {rowsA:N0} bucket rows in {secondsA:F2} CPU s = {rowsA / secondsA:N0} rows/s; " +
                          $"plain INSERTs of the same rows {rowsA / plainSeconds:N0} rows/s; store / plain = {plainSeconds / secondsA:F2}");

        var (buckets, seconds, tens, minutes, counters, year) = PrintSize(database);

        var fleetRate = RecordFleet(database, store, cpu, FleetPerTransaction);
        var fleetBehindRate = RecordFleet(database, store, cpu, FleetBehind);

        var scan = Time(cpu, () => { using var c = database.Connect(); return c.ExecuteScalar<long>("SELECT sum(count) FROM buckets WHERE session_host IN (SELECT id FROM session_hosts WHERE session_id = @a)", new { a }); });
        var histogram = Time(cpu, () => queries.Sites(a).Count);
        var compare = Time(cpu, () => SessionCompare.Run(queries, a, b)!.Functions.Count);
        var step = SessionView.Step(TimeSpan.FromMilliseconds(HourMs));
        var overTime = Time(cpu, () => queries.DropsOverTime(a, step).Seconds.Length);
        var overTimeMinutes = Time(cpu, () => queries.DropsOverTime(a, 60).Seconds.Length);
        var explainInput = queries.ExplainInput(a);
        var explain = Time(cpu, () => queries.ExplainInput(a).Drops.Count);
        var view = Time(cpu, () => SessionView.Build(queries, a)!.Rows.Count);
        var timed = new[] { ("plain scan of the 10 ms rows", scan), ("histogram (sites)", histogram), ("compare two sessions", compare),
            ($"drops over time ({step} s steps, as the page)", overTime), ("drops over time (1 min steps)", overTimeMinutes),
            ($"explain input ({explainInput.Drops.Count:N0} rows of {explainInput.BucketMs / 1000} s)", explain), ("the session page's whole view", view) };
        Console.WriteLine($"{"query (1 h, 200 sites, 10 ms)",-38} {"CPU ms (median of 5)",20} {"vs plain scan",14}");
        foreach (var (name, ms) in timed)
            Console.WriteLine($"{name,-38} {ms,20:F1} {ms / scan,14:F2}");
        return
        [
            ("one host's hour, rows/s", rowsA / secondsA), ("fleet, batches/s", fleetRate), ("fleet, behind, batches/s", fleetBehindRate),
            ("MB a host-day: 10 ms rows", buckets / 1e6), ("MB a host-day: per second", seconds / 1e6), ("MB a host-day: per 10 s", tens / 1e6), ("MB a host-day: per minute", minutes / 1e6),
            ("MB a host-day: counters", counters / 1e6), ("GB a host-year (default retention)", year / 1e9),
            .. timed.Select(t => ($"query ms: {t.Item1}", t.Item2)),
        ];
    }

    /// <returns>Batches recorded per CPU second.</returns>
    private static double RecordFleet(SessionDatabase database, SessionStore store, Func<double> cpu, int perTransaction)
    {
        var fleet = Fleet().Chunk(perTransaction).ToList();
        var writerStarted = ThreadCpu();
        var (_, fleetRows, fleetSeconds) = Record(store, cpu, "fleet", fleet);
        var writerSeconds = ThreadCpu() - writerStarted;
        var fleetPlain = PlainInserts(database, cpu, fleet);
        var fleetBatches = fleet.Sum(t => t.Length);
        Console.WriteLine($"recording a fleet ({FleetHosts} hosts x {Sites} sites, {FleetHosts * 4} batches/s made, {perTransaction} a transaction): {fleetBatches:N0} batches ({fleetRows:N0} rows) in {fleetSeconds:F2} CPU s = " +
                          $"{fleetBatches / fleetSeconds:N0} batches/s, {fleetBatches / fleetSeconds / (FleetHosts * 4):F2}x what the fleet makes; " +
                          $"plain INSERTs of the same rows {fleetBatches / fleetPlain:N0} batches/s; store / plain = {fleetPlain / fleetSeconds:F2}");
        if (database.Engine is SqliteEngine)
            Console.WriteLine($"  of which the writer's thread {writerSeconds:F2} CPU s = {fleetBatches / writerSeconds:N0} batches/s on the thread that commits " +
                              $"(store / plain = {fleetPlain / writerSeconds:F2}); WAL at most {_walPeak / 1e6:F0} MB");
        return fleetBatches / fleetSeconds;
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

    /// <summary>A batch every 250 ms from each host, one bucket at each site in it, 20 counters once a second, as the soak's agents make them.</summary>
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
                // Sampled once a second, in the batch after the sample.
                var counters = start % 1000 == 0 ? Enumerable.Range(0, 20).Select(i => new CounterDelta($"Udp.Counter{i}", random.Next(100), now)).ToArray() : [];
                yield return (hello, new AgentBatch(hello.HostId, sequence, now, drops, counters, [], 0, 0));
            }
        }
    }

    private static (long Id, long Rows, double Seconds) Record(SessionStore store, Func<double> cpu, string name, List<(AgentHello Hello, AgentBatch Batch)[]> transactions)
    {
        var id = store.Create(name, null);
        var started = cpu();
        foreach (var transaction in transactions)
        {
            store.AppendAll(transaction.Select(w => new SessionWrite([id], w.Hello, w.Batch)).ToList());
            if (store.Database.Engine is SqliteEngine && new FileInfo(store.Database.Path + "-wal") is { Exists: true } wal) _walPeak = Math.Max(_walPeak, wal.Length);
        }
        return (id, transactions.Sum(t => t.Sum(w => (long)w.Batch.Drops.Count)), cpu() - started);
    }

    private static double PlainInserts(SessionDatabase database, Func<double> cpu, IEnumerable<(AgentHello Hello, AgentBatch Batch)[]> transactions)
    {
        using var connection = database.Connect();
        connection.Execute("DROP TABLE IF EXISTS plain; CREATE TABLE plain (host bigint, site bigint, start_ms bigint, count bigint)");
        var batches = transactions.ToList();
        var started = cpu();
        foreach (var batch in batches)
        {
            using var transaction = connection.BeginTransaction();
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO plain VALUES (1, @site, @start, @count)";
            var (site, start, count) = (Parameter(insert, "@site"), Parameter(insert, "@start"), Parameter(insert, "@count"));
            insert.Prepare();
            foreach (var d in batch.SelectMany(w => w.Batch.Drops))
            {
                site.Value = (long)d.Function.Length;
                start.Value = d.StartMs;
                count.Value = d.Count;
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        return cpu() - started;
    }

    private static DbParameter Parameter(DbCommand command, string name)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.DbType = System.Data.DbType.Int64;
        command.Parameters.Add(parameter);
        return parameter;
    }

    /// <summary>
    /// Bytes a host-day takes at each resolution, from the two hours recorded: in SQLite each table (with its indexes)
    /// copied alone into a new file, whose size is measured; in PostgreSQL each table's size with its indexes (and the
    /// 10 ms rows' partitions) as written; and what a year of one host takes under the default retention (10 ms rows 7
    /// days, per second to 90 days, then per minute).
    /// </summary>
    private static (double Buckets, double Seconds, double Tens, double Minutes, double Counters, double Year) PrintSize(SessionDatabase database)
    {
        double Day(string table)
        {
            using var connection = database.Connect();
            if (database.Engine is PostgresEngine)
                // A table that is not partitioned has no partition tree: its own size.
                return connection.ExecuteScalar<long>("SELECT coalesce(sum(pg_total_relation_size(relid)), pg_total_relation_size(@table::regclass)) FROM pg_partition_tree(@table::regclass)",
                    new { table }) * 24 / 2.0;
            var path = Path.Combine(Path.GetDirectoryName(database.Path)!, $"size-{table}.db");
            connection.Execute("PRAGMA foreign_keys = OFF");
            connection.Execute($"ATTACH DATABASE '{path}' AS size");
            foreach (var sql in connection.Query<string>("SELECT sql FROM sqlite_master WHERE tbl_name = @table AND sql IS NOT NULL ORDER BY type DESC", new { table }))
                // A table renamed by a migration is named in quotes.
                connection.Execute(System.Text.RegularExpressions.Regex.Replace(sql, $@"^CREATE TABLE ""?{table}""?", $"CREATE TABLE size.{table}").Replace("CREATE INDEX ", "CREATE INDEX size."));
            connection.Execute($"INSERT INTO size.{table} SELECT * FROM main.{table}");
            connection.Execute("DETACH DATABASE size");
            return new FileInfo(path).Length * 24 / 2.0;
        }
        var (buckets, seconds, tens, minutes, counters) = (Day("buckets"), Day("seconds"), Day("tens"), Day("minutes"), Day("counters"));
        var retention = new RetentionSettings();
        // The 10 s sums are kept as long as the seconds.
        var year = retention.BucketDays * (buckets + seconds + tens + minutes) + (retention.SecondDays - retention.BucketDays) * (seconds + tens + minutes) + (365 - retention.SecondDays) * minutes;
        Console.WriteLine($"size per host-day at {Sites} active sites: 10 ms rows {buckets / 1e6:F0} MB, per second {seconds / 1e6:F0} MB, per 10 s {tens / 1e6:F0} MB, per minute {minutes / 1e6:F1} MB, counters (1 a second) {counters / 1e6:F1} MB; " +
                          $"a year of one host kept {retention.BucketDays} d at 10 ms, to {retention.SecondDays} d per second, then per minute: {year / 1e9:F1} GB of drops " +
                          $"(+ {365 * counters / 1e9:F1} GB of counters at this rate); 200 hosts: {200 * year / 1e9:F0} GB");
        return (buckets, seconds, tens, minutes, counters, year);
    }

    private static double Time(Func<double> cpu, Func<long> query)
    {
        query();
        var times = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var started = cpu();
            query();
            times.Add((cpu() - started) * 1000);
        }
        return times.Order().ElementAt(2);
    }

    /// <summary>CPU seconds of the calling thread: the writer's, whose rate bounds what one store can record.</summary>
    private static double ThreadCpu()
    {
        clock_gettime(3 /* CLOCK_THREAD_CPUTIME_ID */, out var time);
        return time.Seconds + time.Nanoseconds / 1e9;
    }

    /// <summary>CPU seconds of this process (every thread: SQLite, its checkpoints, the GC, compare's two sides).</summary>
    private static double ProcessCpu()
    {
        clock_gettime(2 /* CLOCK_PROCESS_CPUTIME_ID */, out var time);
        return time.Seconds + time.Nanoseconds / 1e9;
    }

    /// <summary>
    /// CPU seconds of a PostgreSQL server: its live processes (the postmaster and its children: backends, writers,
    /// autovacuum) to the nanosecond (<c>/proc/PID/schedstat</c>), and the children that ended (the postmaster's
    /// <c>cutime</c> and <c>cstime</c>, in clock ticks).
    /// </summary>
    private static double ServerCpu(int postmaster)
    {
        var stat = File.ReadAllText($"/proc/{postmaster}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var seconds = (long.Parse(fields[13]) + long.Parse(fields[14])) / (double)TicksPerSecond;
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out var pid)) continue;
            try
            {
                var own = File.ReadAllText(Path.Combine(directory, "stat"));
                var parent = int.Parse(own[(own.LastIndexOf(')') + 2)..].Split(' ')[1]);
                if (pid == postmaster || parent == postmaster)
                    seconds += long.Parse(File.ReadAllText(Path.Combine(directory, "schedstat")).Split(' ')[0]) / 1e9;
            }
            catch (IOException)
            {
                // Ended meanwhile: counted in the postmaster's cutime.
            }
        }
        return seconds;
    }

    private const int TicksPerSecond = 100; // USER_HZ, 100 on every Linux DropBoard runs on

    [System.Runtime.InteropServices.DllImport("libc")]
    private static extern int clock_gettime(int clock, out TimeSpec time);

    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
