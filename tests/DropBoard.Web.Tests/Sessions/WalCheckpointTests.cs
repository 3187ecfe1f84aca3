using System.Diagnostics;
using Dapper;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using DropBoard.Web.Sessions;
using DropBoard.Web.Sessions.Storage;
using Microsoft.Data.Sqlite;

namespace DropBoard.Web.Tests.Sessions;

/// <summary>
/// The write-ahead log of a real SQLite file under the recording writer, with pages reading all the while: a reader that
/// holds an old snapshot keeps the log growing; once it lets go, the log is started over and cut back to its limit
/// while the writer goes on writing, emptied once the writer stops, and every drop written is in the file.
/// </summary>
public sealed class WalCheckpointTests
{
    private const long Limit = 1 << 20;

    [Fact]
    public async Task A_log_held_by_a_reader_grows_then_is_cut_back_while_writing_goes_on_and_every_drop_is_kept()
    {
        var path = WebAppProcess.NewDatabasePath();
        var database = SessionDatabase.Open(path);
        ((SqliteEngine)database.Engine).WalLimitBytes = Limit;
        var store = new SessionStore(database, TimeProvider.System);
        var id = store.Create("wal", null);
        var hello = new AgentHello("wal-host", "wal-host", "6.18.0", "tracepoint", "test", 10, "instance");
        var (sequence, sent) = (0L, 0L);
        void Write()
        {
            var batches = Enumerable.Range(0, 8).Select(_ => Batch(hello, ++sequence)).ToList();
            store.AppendAll(batches.Select(b => new SessionWrite([id], hello, b)).ToList());
            sent += batches.Sum(b => b.Drops.Sum(d => d.Count));
        }

        // Pages reading all the while, each query short, as the overview and a session page do.
        using var stop = new CancellationTokenSource();
        var reads = 0;
        var reading = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // A thread of its own, reading before the writes begin: a busy thread pool must not leave the pages unread.
        var pages = Task.Factory.StartNew(() =>
        {
            using var page = new SqliteConnection($"Data Source={path};Pooling=False");
            page.Open();
            while (!stop.IsCancellationRequested)
            {
                page.ExecuteScalar<long>("SELECT coalesce(sum(count), 0) FROM seconds");
                reads++;
                reading.TrySetResult();
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        await reading.Task;

        long held;
        using (var reader = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            reader.Open();
            using var snapshot = reader.BeginTransaction(deferred: true);
            var before = reader.ExecuteScalar<long>("SELECT count(*) FROM buckets", transaction: snapshot);
            // Writes for several checkpoint passes: none can copy past the reader's snapshot, so none may start the log over.
            var writing = Stopwatch.StartNew();
            while (Wal(path) <= 4 * Limit || writing.Elapsed < 3 * WalCheckpoints.Interval) Write();
            held = Wal(path);
            Assert.Equal(before, reader.ExecuteScalar<long>("SELECT count(*) FROM buckets", transaction: snapshot));
        }
        Assert.True(held > 4 * Limit, $"log {held} bytes while the reader held it");

        // The reader let go; the writer never stops between transactions, yet the log is cut back.
        var cutBack = Stopwatch.StartNew();
        while (Wal(path) > Limit && cutBack.Elapsed < TimeSpan.FromSeconds(60)) Write();
        Assert.True(Wal(path) <= Limit, $"log {Wal(path)} bytes {cutBack.Elapsed.TotalSeconds:F0} s after the reader let go (held: {held}, limit {Limit})");

        // The writer stops: the log is emptied into the file.
        var idle = Stopwatch.StartNew();
        while (Wal(path) > 0 && idle.Elapsed < TimeSpan.FromSeconds(30)) await Task.Delay(100);
        await stop.CancelAsync();
        await pages;
        Assert.Equal(0, Wal(path));
        Assert.True(reads > 0);

        using var look = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        look.Open();
        Assert.Equal(sent, look.ExecuteScalar<long>("SELECT sum(count) FROM buckets"));
        Assert.Equal(sent, look.ExecuteScalar<long>("SELECT sum(count) FROM seconds"));
        Assert.Equal(sent, look.ExecuteScalar<long>("SELECT sum(count) FROM minutes"));
        Assert.Equal(sent, look.ExecuteScalar<long>("SELECT drops FROM session_hosts"));
        Assert.Equal(sequence, look.ExecuteScalar<long>("SELECT count(*) FROM batches_seen"));
        Assert.Equal("ok", look.ExecuteScalar<string>("PRAGMA integrity_check"));
    }

    /// <summary>A batch of 250 ms with a bucket at each of 50 sites.</summary>
    private static AgentBatch Batch(AgentHello hello, long sequence)
    {
        var at = 1_700_000_000_000 + sequence * 250;
        var drops = Enumerable.Range(0, 50).Select(s => new DropBucket($"fn_{s}+0x{s:x}", $"fn_{s}", "SOCKET_RCVBUFF", at + s % 25 * 10, s + 1)).ToList();
        return new AgentBatch(hello.HostId, sequence, at + 250, drops, [], [], 0, 0);
    }

    private static long Wal(string path) => new FileInfo(path + "-wal") is { Exists: true } wal ? wal.Length : 0;
}
