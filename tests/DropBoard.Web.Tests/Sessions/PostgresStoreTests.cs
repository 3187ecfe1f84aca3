using Dapper;
using DropBoard.TestKit;
using DropBoard.Web.Sessions;

namespace DropBoard.Web.Tests.Sessions;

/// <summary>
/// What only PostgreSQL has: 10 ms rows in a partition per day, dropped whole by retention; and whose a database is
/// (one of another program, one of a newer DropBoard, a server that is not there) before anything is written to it.
/// </summary>
public sealed class PostgresStoreTests
{
    private const long Day = 86_400_000;

    [Fact]
    public async Task Ten_ms_rows_are_kept_in_a_partition_per_day_and_retention_drops_the_old_days_whole_with_every_total_kept()
    {
        var connectionString = await StoreEngines.NewDatabaseAsync(StoreEngines.Postgres);
        var database = SessionDatabase.Open(connectionString);
        var store = new SessionStore(database, TimeProvider.System);
        var queries = new SessionQueries(database, TimeProvider.System);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var midnight = Rollup.Floor(now - 10 * Day, Day) * Day;
        // 130 s of drops across a midnight ten days ago, and an hour ago.
        var old = store.Import(RollupTests.File("across midnight", midnight - 60_000, seed: 1));
        var recent = store.Import(RollupTests.File("an hour ago", now - 3_600_000, seed: 2));
        var before = new[] { old, recent }.Select(id => RollupTests.Read(queries, id)).ToList();
        var (oldDays, recentDay) = ((Name(midnight - Day), Name(midnight)), Name(now - 3_600_000));

        await using var connection = StoreEngines.Look(connectionString);
        var partitions = Partitions(connection);
        var oldRows = Rows(connection, old);
        Assert.Contains(Name(now), partitions.Keys); // made ahead: today's and tomorrow's
        Assert.Contains(Name(now + Day), partitions.Keys);
        Assert.True(partitions[oldDays.Item1] > 0 && partitions[oldDays.Item2] > 0, string.Join(", ", partitions));
        Assert.Equal(oldRows, partitions[oldDays.Item1] + partitions[oldDays.Item2]);
        Assert.Equal(0, partitions["buckets_elsewhen"]);

        var (bucketsBefore, secondsBefore) = new RetentionSettings().Cuts(now);
        var removed = store.Thin(bucketsBefore, secondsBefore);

        var after = Partitions(connection);
        Assert.DoesNotContain(oldDays.Item1, after.Keys);
        Assert.DoesNotContain(oldDays.Item2, after.Keys);
        Assert.Equal(partitions[recentDay], after[recentDay]);
        Assert.Equal(oldRows, removed);
        Assert.Equal(1000, queries.ExplainInput(old).BucketMs); // its seconds are what is left finest
        Assert.Equal(before, new[] { old, recent }.Select(id => RollupTests.Read(queries, id)));
        Assert.Equal(0, store.Thin(bucketsBefore, secondsBefore));
    }

    [Fact]
    public async Task A_database_from_before_the_10_s_sums_gets_them_from_its_seconds_and_its_charts_stay_as_they_were()
    {
        var connectionString = await StoreEngines.NewDatabaseAsync(StoreEngines.Postgres);
        var database = SessionDatabase.Open(connectionString);
        var id = new SessionStore(database, TimeProvider.System).Import(RollupTests.File("before", DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 3_600_000, seed: 3));
        var chart = Chart(new SessionQueries(database, TimeProvider.System), id);
        await using (var connection = StoreEngines.Look(connectionString))
            connection.Execute("DROP TABLE tens; UPDATE dropboard_schema SET version = 2");

        var upgraded = SessionDatabase.Open(connectionString);

        Assert.Equal(chart, Chart(new SessionQueries(upgraded, TimeProvider.System), id));
        await using (var connection = StoreEngines.Look(connectionString))
        {
            Assert.Equal(3, connection.ExecuteScalar<int>("SELECT version FROM dropboard_schema"));
            Assert.Equal(connection.ExecuteScalar<long>("SELECT sum(count) FROM seconds"), connection.ExecuteScalar<long>("SELECT sum(count) FROM tens"));
            Assert.Equal(0, connection.ExecuteScalar<long>(
                "SELECT count(*) FROM tens t WHERE count <> (SELECT sum(count) FROM seconds s WHERE s.session_host = t.session_host AND s.site = t.site AND s.second >= t.ten * 10 AND s.second < t.ten * 10 + 10)"));
        }
    }

    private static string Chart(SessionQueries queries, long id) =>
        string.Join("; ", queries.DropsOverTime(id, 10).Series.Select(s => $"{s.Name}: {string.Join(",", s.Values)}"));

    [Fact]
    public async Task A_database_of_another_program_or_of_a_newer_DropBoard_is_refused_and_left_as_it_was()
    {
        var foreign = await StoreEngines.NewDatabaseAsync(StoreEngines.Postgres);
        await using (var connection = StoreEngines.Look(foreign))
            connection.Execute("CREATE TABLE orders (id integer PRIMARY KEY, total numeric); INSERT INTO orders VALUES (1, 9.5)");

        var refused = Assert.Throws<SessionDatabaseException>(() => SessionDatabase.Open(foreign));

        Assert.Contains("holds tables of something else (orders); it was left untouched", refused.Message);
        await using (var connection = StoreEngines.Look(foreign))
        {
            Assert.Equal(["orders"], connection.Query<string>("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"));
            Assert.Equal(9.5m, connection.ExecuteScalar<decimal>("SELECT total FROM orders"));
        }

        var newer = await StoreEngines.NewDatabaseAsync(StoreEngines.Postgres);
        new SessionStore(SessionDatabase.Open(newer), TimeProvider.System).Create("kept", null);
        await using (var connection = StoreEngines.Look(newer))
            connection.Execute("UPDATE dropboard_schema SET version = 99");

        var tooNew = Assert.Throws<SessionDatabaseException>(() => SessionDatabase.Open(newer));

        Assert.Contains("has schema version 99, newer than this DropBoard (3); it was left untouched: upgrade DropBoard", tooNew.Message);
        await using (var connection = StoreEngines.Look(newer))
            Assert.Equal("kept", connection.ExecuteScalar<string>("SELECT name FROM sessions"));
    }

    [Fact]
    public async Task A_server_that_does_not_answer_stops_the_start_naming_it_and_without_its_password()
    {
        var port = WebAppProcess.FreePort();

        var (exit, output) = await WebAppProcess.RunUntilExitAsync(
            $"DropBoard:Database=Host=127.0.0.1;Port={port};Username=dropboard;Password=s3cret-pw;Database=fleet;Timeout=3", "DropBoard:EmbeddedAgent=false");

        Assert.Equal(2, exit);
        Assert.Contains($"PostgreSQL database fleet on 127.0.0.1:{port} cannot be used", output);
        Assert.DoesNotContain("s3cret-pw", output);
    }

    private static string Name(long ms) => "buckets_" + DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyyMMdd");

    /// <summary>Each partition of buckets and its rows.</summary>
    private static Dictionary<string, long> Partitions(System.Data.Common.DbConnection connection) =>
        connection.Query<string>("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'buckets'::regclass")
            .ToDictionary(name => name, name => connection.ExecuteScalar<long>($"SELECT count(*) FROM {name}"));

    private static long Rows(System.Data.Common.DbConnection connection, long session) => connection.ExecuteScalar<long>(
        "SELECT count(*) FROM buckets WHERE session_host IN (SELECT id FROM session_hosts WHERE session_id = @session)", new { session });
}
