using System.Data.Common;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using DropBoard.Web.Tests.Live;
using DropBoard.Web.Tests.Metrics;
using DropBoard.Web.Tests.Sessions;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Data.Sqlite;
using Npgsql;
using static DropBoard.Web.Tests.Hub.AgentHubClient;
using static DropBoard.Web.Tests.Sessions.SessionApiReads;

namespace DropBoard.Web.Tests.Faults;

/// <summary>
/// The real dashboard recording a session into a real database that cannot be written for a while: an SQLite file or
/// a PostgreSQL database locked by another process, on a full disk; a PostgreSQL server stopped and started again.
/// Batches sent meanwhile are answered "retry", nothing is acknowledged before it is committed, and once the database
/// is writable again the session holds every drop exactly once, as do the live view and /metrics.
/// </summary>
public sealed class StoreFaultTests
{
    private const string Token = "store-fault-token";

    /// <summary>In every PostgreSQL connection string: it must not reach an agent, a page or the log.</summary>
    private const string Password = "pg-fault-secret";

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task Batches_sent_while_another_process_holds_the_database_are_answered_retry_then_taken_and_recorded_once(string engine)
    {
        var database = await StoreEngines.NewDatabaseAsync(engine);
        if (engine == StoreEngines.Postgres) database += $";Password={Password}";
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false", $"DropBoard:Database={database}");
        var session = await CreateAsync(app, "while locked");
        await using var agent = await Connect(app, Token);
        var hello = Hello("locked-host");
        var answers = new List<BatchAck>();
        var sent = new List<AgentBatch>();
        for (var sequence = 1; sequence <= 5; sequence++)
            await SendAsync(agent, hello, Batch("locked-host", sequence, 10 + sequence), sent, answers);
        Assert.All(answers, a => Assert.Equal(BatchRejection.None, a.Rejection));

        // Another process takes the write lock and keeps it for 10 s while the agent goes on sending every 250 ms.
        using var holder = HoldWriteLock(engine, database);
        var sending = Task.Run(async () =>
        {
            for (var sequence = 6; sequence <= 50; sequence++)
            {
                await SendAsync(agent, hello, Batch("locked-host", sequence, sequence), sent, answers);
                await Task.Delay(250);
            }
        });
        await Task.Delay(TimeSpan.FromSeconds(10));
        BatchAck[] whileHeld;
        lock (answers) whileHeld = answers.Skip(5).ToArray();
        var sessionWhileHeld = await SessionDropsAsync(app, session);
        var liveWhileHeld = await LiveApiReads.ReasonCountAsync(app, "locked-host", "SOCKET_RCVBUFF");
        var pageWhileHeld = await app.Http.GetStringAsync($"sessions/{session}");
        Execute(holder, "ROLLBACK");
        await sending;

        // Held: nothing past the first five batches was taken, and each attempt was told why, in the engine's words.
        var locked = engine == StoreEngines.Postgres
            ? $"{Where(database)} is locked by another session for more than 2 s (PostgreSQL: 55P03: canceling statement due to lock timeout)"
            : $"{database} is locked by another process";
        Assert.NotEmpty(whileHeld);
        Assert.All(whileHeld, a => Assert.Equal(BatchRejection.Retry, a.Rejection));
        Assert.All(whileHeld, a => Assert.Contains(locked, a.Rejected));
        Assert.Contains("The dashboard cannot store batches since", pageWhileHeld);
        Assert.Contains(locked, pageWhileHeld);
        var firstFive = sent.Take(5).Sum(Drops);
        Assert.Equal(firstFive, sessionWhileHeld);
        Assert.Equal(firstFive, liveWhileHeld);

        // Released: every batch taken once, the session, the live view and /metrics hold every drop exactly once.
        var total = sent.Sum(Drops);
        Assert.Equal(50, answers.Count(a => a.Rejection == BatchRejection.None && !a.Duplicate));
        Assert.DoesNotContain(answers, a => a.Rejection is not (BatchRejection.None or BatchRejection.Retry));
        Assert.Equal(total, await SessionDropsAsync(app, session));
        Assert.Equal(total, await LiveApiReads.ReasonCountAsync(app, "locked-host", "SOCKET_RCVBUFF"));
        var scrape = await MetricsScrape.ReadAsync(app);
        Assert.Equal(total, scrape.Sum("dropboard_drops_total", s => s["host"] == "locked-host"));
        Assert.Equal(50, scrape.Sum("dropboard_batches_total", s => s["result"] == "accepted"));
        Assert.Equal(answers.Count(a => a.Rejection == BatchRejection.Retry), scrape.Sum("dropboard_batches_total", s => s["result"] == "retry"));

        // A batch resent after it was committed is a repeat, and changes nothing.
        var again = await agent.InvokeAsync<BatchAck>(AgentHubContract.BatchMethod, hello, sent[10]);
        Assert.True(again.Duplicate);
        Assert.Equal(total, await SessionDropsAsync(app, session));
        await WaitForLogAsync(app, $"Cannot store batches in {Where(database)}");
        await WaitForLogAsync(app, $"Storing batches in {Where(database)} again");
        Assert.DoesNotContain("The dashboard cannot store batches", await app.Http.GetStringAsync($"sessions/{session}"));
        Assert.DoesNotContain(Password, app.Log);
    }

    /// <summary>
    /// Another process's lock on what the writer writes, reads going on beside it: SQLite's write lock; in PostgreSQL an
    /// EXCLUSIVE lock on the tables every batch is written to (it lets SELECT through, as SQLite's lets readers).
    /// </summary>
    private static DbConnection HoldWriteLock(string engine, string database)
    {
        DbConnection holder = engine == StoreEngines.Postgres
            ? new NpgsqlConnection(database)
            : new SqliteConnection($"Data Source={database};Pooling=False");
        holder.Open();
        Execute(holder, engine == StoreEngines.Postgres ? "BEGIN; LOCK TABLE batches_seen, buckets, seconds, minutes IN EXCLUSIVE MODE" : "BEGIN EXCLUSIVE");
        return holder;
    }

    /// <summary>The database as the dashboard names it: the file, or the PostgreSQL database and server (no password).</summary>
    private static string Where(string database)
    {
        if (!database.StartsWith("Host=", StringComparison.Ordinal)) return database;
        var settings = new NpgsqlConnectionStringBuilder(database);
        return $"PostgreSQL database {settings.Database} on {settings.Host}:{settings.Port}";
    }

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task Batches_sent_while_the_disk_is_full_are_answered_retry_said_on_the_page_and_recorded_once_space_is_freed(string engine)
    {
        Privileged.RequireRoot();
        var mount = Directory.CreateTempSubdirectory("dropboard-full-disk-");
        // PostgreSQL: a cluster of its own, the test's database in a tablespace on the small file system (its log stays
        // on the big one, as a cluster's usually does on a disk of its own).
        Commands.Run("mount", "-t", "tmpfs", "-o", engine == StoreEngines.Postgres ? "size=32m" : "size=16m", "tmpfs", mount.FullName);
        PostgresServer? server = null;
        try
        {
            string database;
            if (engine == StoreEngines.Postgres)
            {
                server = await PostgresServer.StartAsync();
                database = server.NewDatabase(server.NewTablespace(Path.Combine(mount.FullName, "tablespace"))) + $";Password={Password}";
            }
            else database = Path.Combine(mount.FullName, "dropboard.db");
            await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false", $"DropBoard:Database={database}");
            var session = await CreateAsync(app, "on a full disk");
            await using var agent = await Connect(app, Token);
            var hello = Hello("full-host");
            var answers = new List<BatchAck>();
            var sent = new List<AgentBatch>();
            await SendAsync(agent, hello, BigBatch(1), sent, answers);

            // Fill the file system to its last block, then send until the dashboard cannot store any more.
            var filler = Path.Combine(mount.FullName, "filler");
            var (code, _, stderr) = Commands.TryRun("dd", "if=/dev/zero", $"of={filler}", "bs=64k");
            Assert.True(code != 0 && stderr.Contains("No space left on device"), $"dd did not fill {mount.FullName}: {stderr}");
            BatchAck? refused = null;
            for (var sequence = 2; refused is null; sequence++)
            {
                Assert.True(sequence < 100, $"the dashboard stored 100 batches on a full file system:\n{app.Log}");
                var batch = BigBatch(sequence);
                var ack = await agent.InvokeAsync<BatchAck>(AgentHubContract.BatchMethod, hello, batch);
                answers.Add(ack);
                Assert.NotEqual(BatchRejection.TooFast, ack.Rejection);
                if (ack.Rejection == BatchRejection.Retry) refused = ack;
                sent.Add(batch);
                await Task.Delay(50);
            }
            var full = $"the disk holding {Where(database)} is full";
            Assert.Contains(full, refused.Rejected);
            if (engine == StoreEngines.Postgres) Assert.Contains("(PostgreSQL: 53100: could not extend file", refused.Rejected);
            await WaitForLogAsync(app, $"Cannot store batches in {Where(database)}: {full}");
            var page = await app.Http.GetStringAsync($"sessions/{session}");
            Assert.Contains("The dashboard cannot store batches since", page);
            Assert.Contains(full, page);
            Assert.Equal(sent.Take(sent.Count - 1).Sum(Drops), await SessionDropsAsync(app, session));

            // Space freed: the refused batch and the ones after it are taken, once each; the dashboard never stopped.
            File.Delete(filler);
            try
            {
                await SendAsync(agent, hello, sent[^1], [], answers);
                var next = sent.Count + 1;
                for (var sequence = next; sequence < next + 5; sequence++)
                    await SendAsync(agent, hello, BigBatch(sequence), sent, answers);
            }
            catch (Exception e)
            {
                throw new Xunit.Sdk.XunitException($"{e.Message}; the dashboard said:\n{app.Log}");
            }
            Assert.Equal(sent.Sum(Drops), await SessionDropsAsync(app, session));
            Assert.Equal(sent.Sum(Drops), await LiveApiReads.ReasonCountAsync(app, "full-host", "SOCKET_RCVBUFF"));
            Assert.Equal(sent.Count, answers.Count(a => a.Rejection == BatchRejection.None && !a.Duplicate));
            await WaitForLogAsync(app, $"Storing batches in {Where(database)} again");
            Assert.DoesNotContain("The dashboard cannot store batches", await app.Http.GetStringAsync($"sessions/{session}"));
            Assert.DoesNotContain(Password, app.Log);
        }
        finally
        {
            if (server is not null) await server.DisposeAsync();
            Commands.TryRun("umount", "-l", mount.FullName);
            mount.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Batches_sent_while_the_PostgreSQL_server_is_stopped_are_answered_retry_and_recorded_once_it_is_back()
    {
        await using var server = await PostgresServer.StartAsync();
        var database = server.NewDatabase() + $";Password={Password}";
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false", $"DropBoard:Database={database}");
        var session = await CreateAsync(app, "server stopped");
        await using var agent = await Connect(app, Token);
        var hello = Hello("stopped-host");
        var answers = new List<BatchAck>();
        var sent = new List<AgentBatch>();
        for (var sequence = 1; sequence <= 5; sequence++)
            await SendAsync(agent, hello, Batch("stopped-host", sequence, 10 + sequence), sent, answers);

        // The server stops (fast: transactions rolled back, connections closed) while the agent sends every 250 ms,
        // and comes back 8 s later on the same port.
        var sending = Task.Run(async () =>
        {
            for (var sequence = 6; sequence <= 60; sequence++)
            {
                await SendAsync(agent, hello, Batch("stopped-host", sequence, sequence), sent, answers);
                await Task.Delay(250);
            }
        });
        await Task.Delay(TimeSpan.FromSeconds(2));
        await server.StopAsync();
        await Task.Delay(TimeSpan.FromSeconds(8));
        BatchAck[] whileStopped;
        lock (answers) whileStopped = answers.Where(a => a.Rejection != BatchRejection.None).ToArray();
        await server.StartAgainAsync();
        await sending;

        // Stopped: batches were answered "retry", saying the server cannot be reached, never with its password.
        Assert.NotEmpty(whileStopped);
        Assert.All(whileStopped, a => Assert.Equal(BatchRejection.Retry, a.Rejection));
        Assert.Contains(whileStopped, a => a.Rejected!.Contains($"{Where(database)} cannot be reached"));
        Assert.DoesNotContain(whileStopped, a => a.Rejected!.Contains(Password));
        await WaitForLogAsync(app, $"Cannot store batches in {Where(database)}");
        await WaitForLogAsync(app, $"Storing batches in {Where(database)} again");

        // Back: every batch is in the session once (one committed as the server stopped, its answer lost, is a repeat
        // when sent again), as in the live view and /metrics; the page no longer says the store is in trouble.
        var total = sent.Sum(Drops);
        Assert.Equal(60, sent.Count);
        Assert.Equal(total, await SessionDropsAsync(app, session));
        Assert.Equal(total, await LiveApiReads.ReasonCountAsync(app, "stopped-host", "SOCKET_RCVBUFF"));
        var scrape = await MetricsScrape.ReadAsync(app);
        Assert.Equal(total, scrape.Sum("dropboard_drops_total", s => s["host"] == "stopped-host"));
        Assert.Equal(0, scrape.Sum("dropboard_batches_not_stored_total"));
        Assert.DoesNotContain("The dashboard cannot store batches", await app.Http.GetStringAsync($"sessions/{session}"));
        Assert.DoesNotContain(Password, app.Log);
    }

    /// <summary>500 buckets of one site, 10 ms apart: enough to grow the write-ahead log past a full disk in a few batches.</summary>
    private static AgentBatch BigBatch(long sequence)
    {
        var start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 10 * 10 - 5_000;
        var drops = Enumerable.Range(0, 500)
            .Select(i => new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", start + i * 10, 1 + (i + sequence) % 7))
            .ToList();
        return new AgentBatch("full-host", sequence, start + 5_000, drops, [], [], 0, 0);
    }

    private static async Task SendAsync(HubConnection agent, AgentHello hello, AgentBatch batch, List<AgentBatch> sent, List<BatchAck> answers)
    {
        lock (sent) sent.Add(batch);
        await SendUntilTakenAsync(agent, hello, batch, answers);
    }

    private static long Drops(AgentBatch batch) => batch.Drops.Sum(d => d.Count);

    private static async Task<long> SessionDropsAsync(WebAppProcess app, long session) => (await SitesAsync(app, session)).Values.Sum();

    private static void Execute(DbConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
