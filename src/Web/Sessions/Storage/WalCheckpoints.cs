using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace DropBoard.Web.Sessions.Storage;

/// <summary>
/// Checkpoints of an SQLite file's write-ahead log, off the writer's thread, and a bound on the log's size.
/// </summary>
/// <remarks>
/// SQLite's own automatic checkpoint runs inside the commit that passes 1000 pages, on the committing thread: it cost
/// the recording writer half its commit time. So the writer's connection has it off, and a thread of its own copies
/// the log into the file (PASSIVE: it never waits, never blocks a reader or the writer) a second after the writer
/// wrote, for as long as it writes.
/// A log is only started over from its beginning when every frame in it is copied and no reader reads from it; with
/// the writer always in a transaction and pages reading all the time, that moment never comes by itself, and the log
/// grew without bound (700 MB in 3 minutes of a fleet recording). So once the log is past <see cref="LimitBytes"/> and
/// a pass could copy all the log held a pass before (no reader keeps an old snapshot), the writer is asked to start it
/// over between two of its transactions (TRUNCATE: copy the few frames since, wait for readers still on the old log at
/// most <see cref="RestartWait"/>, empty it); when a reader kept it, it tries again after a later pass. A reader never
/// waits for it (readers that start once every frame is copied read the file alone); the writer waits about that long.
/// </remarks>
internal sealed class WalCheckpoints(string path)
{
    /// <summary>How long after a commit the log is copied, and how often while the writer goes on writing.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    /// <summary>How long starting the log over waits for readers still on it; the writer waits as long, so it is short.</summary>
    public static readonly TimeSpan RestartWait = TimeSpan.FromMilliseconds(100);

    private int _running, _written, _restart;

    /// <summary>Past this size the log is started over, and cut back to it.</summary>
    public long LimitBytes { get; set; } = 64 << 20;

    /// <summary>On the writer's thread after each of its transactions, when it holds no lock.</summary>
    public void Written(SqliteConnection writer)
    {
        Interlocked.Exchange(ref _written, 1);
        if (Interlocked.Exchange(ref _restart, 0) == 1)
        {
            try
            {
                Checkpoint(writer, raw.SQLITE_CHECKPOINT_TRUNCATE);
            }
            catch (SqliteException)
            {
                // What the writer wrote is committed: a log that could not be emptied now is tried again after the next pass.
            }
        }
        if (Interlocked.CompareExchange(ref _running, 1, 0) == 0)
            new Thread(Run) { IsBackground = true, Name = "SQLite WAL checkpoints" }.Start();
    }

    /// <summary>
    /// Copies the log while the writer writes; once it stopped, empties it (the writer's lock is free then) and ends, so an
    /// idle file costs no thread.
    /// </summary>
    private void Run()
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        var lastFrames = 0;
        while (true)
        {
            Thread.Sleep(Interval);
            var writing = Interlocked.Exchange(ref _written, 0) == 1;
            bool done;
            try
            {
                if (connection.State != System.Data.ConnectionState.Open) connection.Open();
                if (writing)
                {
                    if (Checkpoint(connection, raw.SQLITE_CHECKPOINT_PASSIVE) is var (frames, copied))
                    {
                        // Copied past what the log held a pass ago: no reader keeps an old snapshot, so starting over will not wait long.
                        if (copied >= lastFrames && Size() > LimitBytes) Interlocked.Exchange(ref _restart, 1);
                        lastFrames = frames;
                    }
                    continue;
                }
                done = Checkpoint(connection, raw.SQLITE_CHECKPOINT_TRUNCATE) is var (left, emptied) && left == emptied;
            }
            catch (SqliteException)
            {
                // The disk is full, the file read-only or gone: the writer says so at its next commit. Tried again next pass
                // while it writes; else at its next commit.
                done = !writing;
            }
            if (!done) continue;
            Interlocked.Exchange(ref _running, 0);
            if (Volatile.Read(ref _written) == 0 || Interlocked.CompareExchange(ref _running, 1, 0) != 0) return;
        }
    }

    /// <returns>The frames in the log and how many of them are in the file; null when it had to wait (another checkpoint, a reader).</returns>
    /// <exception cref="SqliteException">Another error (disk full, I/O error).</exception>
    private static (int Frames, int Copied)? Checkpoint(SqliteConnection connection, int mode)
    {
        var db = connection.Handle!;
        // PASSIVE never waits; the others wait for the writer's lock and for readers, as long as the busy timeout says.
        var busy = 0;
        if (mode != raw.SQLITE_CHECKPOINT_PASSIVE)
        {
            using var read = new SqliteCommand("PRAGMA busy_timeout", connection);
            busy = Convert.ToInt32(read.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
            raw.sqlite3_busy_timeout(db, (int)RestartWait.TotalMilliseconds);
        }
        try
        {
            var rc = raw.sqlite3_wal_checkpoint_v2(db, "main", mode, out var frames, out var copied);
            if (rc == raw.SQLITE_BUSY || rc == raw.SQLITE_LOCKED) return null;
            if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, db);
            return (frames, copied);
        }
        finally
        {
            if (mode != raw.SQLITE_CHECKPOINT_PASSIVE) raw.sqlite3_busy_timeout(db, busy);
        }
    }

    private long Size() => new FileInfo(path + "-wal") is { Exists: true } wal ? wal.Length : 0;
}
