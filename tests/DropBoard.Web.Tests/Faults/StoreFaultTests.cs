using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using DropBoard.Web.Tests.Live;
using DropBoard.Web.Tests.Metrics;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Data.Sqlite;
using static DropBoard.Web.Tests.Hub.AgentHubClient;
using static DropBoard.Web.Tests.Sessions.SessionApiReads;

namespace DropBoard.Web.Tests.Faults;

/// <summary>
/// The real dashboard recording a session into a real SQLite file that cannot be written for a while: locked by
/// another process, or on a full disk. Batches sent meanwhile are answered "retry", nothing is acknowledged before
/// it is committed, and once the file is writable again the session holds every drop exactly once, as do the
/// live view and /metrics.
/// </summary>
public sealed class StoreFaultTests
{
    private const string Token = "store-fault-token";

    [Fact]
    public async Task Batches_sent_while_another_process_holds_the_database_are_answered_retry_then_taken_and_recorded_once()
    {
        var database = WebAppProcess.NewDatabasePath();
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
        using var holder = new SqliteConnection($"Data Source={database};Pooling=False");
        holder.Open();
        Execute(holder, "BEGIN EXCLUSIVE");
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
        Execute(holder, "ROLLBACK");
        await sending;

        // Held: nothing past the first five batches was taken, and each attempt was told why.
        Assert.NotEmpty(whileHeld);
        Assert.All(whileHeld, a => Assert.Equal(BatchRejection.Retry, a.Rejection));
        Assert.All(whileHeld, a => Assert.Contains("locked by another process", a.Rejected));
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
        await WaitForLogAsync(app, $"Cannot store batches in {database}");
        await WaitForLogAsync(app, $"Storing batches in {database} again");
    }

    [Fact]
    public async Task Batches_sent_while_the_disk_is_full_are_answered_retry_said_on_the_page_and_recorded_once_space_is_freed()
    {
        Privileged.RequireRoot();
        var mount = Directory.CreateTempSubdirectory("dropboard-full-disk-");
        Commands.Run("mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", mount.FullName);
        try
        {
            var database = Path.Combine(mount.FullName, "dropboard.db");
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
            Assert.Contains("is full", refused.Rejected);
            await WaitForLogAsync(app, $"Cannot store batches in {database}: the disk holding {database} is full");
            var page = await app.Http.GetStringAsync($"sessions/{session}");
            Assert.Contains("The dashboard cannot store batches since", page);
            Assert.Contains($"the disk holding {database} is full", page);
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
            await WaitForLogAsync(app, $"Storing batches in {database} again");
            Assert.DoesNotContain("The dashboard cannot store batches", await app.Http.GetStringAsync($"sessions/{session}"));
        }
        finally
        {
            Commands.TryRun("umount", "-l", mount.FullName);
            mount.Delete(recursive: true);
        }
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

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }
}
