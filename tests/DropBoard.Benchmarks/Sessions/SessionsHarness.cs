using System.Diagnostics;
using Dapper;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Sessions;
using Microsoft.Data.Sqlite;

namespace DropBoard.Benchmarks.Sessions;

/// <summary>
/// Sessions on a real SQLite file: recording rate through <see cref="SessionStore.Append"/> (10 ms bucket rows
/// per second, against plain prepared INSERTs of the same rows in the same transactions), then, on two
/// recorded one-hour sessions of 200 active sites at 10 ms buckets (each site drops in 2% of its buckets:
/// 1.44 million rows a session), the histogram, compare and explain-input queries, against one plain scan
/// summing the session's 10 ms rows.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- sessions</c>.
/// </summary>
internal static class SessionsHarness
{
    private const int Sites = 200, BucketMs = 10, BatchMs = 250;
    private const long HourMs = 3_600_000;

    public static int Run()
    {
        var directory = Directory.CreateTempSubdirectory("dropboard-sessions-bench-");
        try
        {
            var database = SessionDatabase.Open(Path.Combine(directory.FullName, "bench.db"));
            var store = new SessionStore(database, TimeProvider.System);
            var queries = new SessionQueries(database, TimeProvider.System);

            var (a, rowsA, secondsA) = Record(store, "hour A", seed: 1);
            var (b, _, _) = Record(store, "hour B", seed: 2);
            var plainSeconds = PlainInserts(database, seed: 1);
            Console.WriteLine($"recording: {rowsA:N0} bucket rows in {secondsA:F2} s = {rowsA / secondsA:N0} rows/s; " +
                              $"plain INSERTs of the same rows {rowsA / plainSeconds:N0} rows/s; store / plain = {plainSeconds / secondsA:F2}");

            var scan = Time(() => { using var c = database.Connect(); return c.ExecuteScalar<long>("SELECT sum(count) FROM buckets WHERE session_host IN (SELECT id FROM session_hosts WHERE session_id = @a)", new { a }); });
            var histogram = Time(() => queries.Sites(a).Count);
            var compare = Time(() => SessionCompare.Run(queries, a, b)!.Functions.Count);
            var overTime = Time(() => queries.DropsOverTime(a, 6).Seconds.Length);
            var explain = Time(() => queries.ExplainInput(a).Drops.Count);
            Console.WriteLine($"{"query (1 h, 200 sites, 10 ms)",-34} {"ms (median of 5)",16} {"vs plain scan",14}");
            foreach (var (name, ms) in new[] { ("plain scan of the 10 ms rows", scan), ("histogram (sites)", histogram), ("compare two sessions", compare),
                         ("drops over time (6 s steps)", overTime), ("explain input (per second)", explain) })
                Console.WriteLine($"{name,-34} {ms,16:F1} {ms / scan,14:F2}");
            return 0;
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            directory.Delete(recursive: true);
        }
    }

    private static IEnumerable<AgentBatch> Batches(string host, int seed)
    {
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
            yield return new AgentBatch(host, ++sequence, start, [.. buckets], counters, [], 0, 0);
        }
    }

    private static (long Id, long Rows, double Seconds) Record(SessionStore store, string name, int seed)
    {
        var id = store.Create(name, null);
        var hello = new AgentHello("bench-host", "bench-host", "6.18.0", "tracepoint", "bench", BucketMs, $"run-{seed}");
        var batches = Batches("bench-host", seed).ToList();
        var clock = Stopwatch.StartNew();
        foreach (var batch in batches) store.Append(id, hello, batch);
        return (id, batches.Sum(b => (long)b.Drops.Count), clock.Elapsed.TotalSeconds);
    }

    private static double PlainInserts(SessionDatabase database, int seed)
    {
        using var connection = database.Connect();
        connection.Execute("CREATE TABLE plain (host INTEGER, site INTEGER, start_ms INTEGER, count INTEGER)");
        var batches = Batches("bench-host", seed).ToList();
        var clock = Stopwatch.StartNew();
        foreach (var batch in batches)
        {
            using var transaction = connection.BeginTransaction();
            using var insert = connection.CreateCommand();
            insert.Transaction = transaction;
            insert.CommandText = "INSERT INTO plain VALUES (1, $site, $start, $count)";
            var (site, start, count) = (insert.Parameters.Add("$site", SqliteType.Integer), insert.Parameters.Add("$start", SqliteType.Integer), insert.Parameters.Add("$count", SqliteType.Integer));
            insert.Prepare();
            foreach (var d in batch.Drops)
            {
                site.Value = d.Function.Length;
                start.Value = d.StartMs;
                count.Value = d.Count;
                insert.ExecuteNonQuery();
            }
            transaction.Commit();
        }
        return clock.Elapsed.TotalSeconds;
    }

    private static double Time(Func<long> query)
    {
        query();
        var times = new List<double>();
        for (var i = 0; i < 5; i++)
        {
            var clock = Stopwatch.StartNew();
            query();
            times.Add(clock.Elapsed.TotalMilliseconds);
        }
        return times.Order().ElementAt(2);
    }
}
