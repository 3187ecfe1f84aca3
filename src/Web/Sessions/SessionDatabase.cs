using System.Data.Common;
using Dapper;
using DropBoard.Web.Sessions.Storage;
using Microsoft.Data.Sqlite;

namespace DropBoard.Web.Sessions;

/// <summary>The database file could not be opened as DropBoard's; the message names the file and what is wrong.</summary>
public sealed class SessionDatabaseException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The database that holds sessions, investigations and access: an SQLite file (the default), or a PostgreSQL
/// database when <c>DropBoard:Database</c> is a connection string (<see cref="PostgresEngine"/>). The file: WAL mode, schema versioned by
/// <c>PRAGMA user_version</c> and migrated in code at start-up, identified by <c>PRAGMA application_id</c>.
/// An existing file is first looked at read-only; one that is not DropBoard's, is newer than this build, is
/// damaged, or is locked is reported and left exactly as it was (with its -wal and -shm): nothing is ever
/// written to it or re-created over it.
/// </summary>
public sealed class SessionDatabase
{
    /// <summary>
    /// What every DropBoard file carries in <c>PRAGMA application_id</c>: ASCII "DrpB". Changing it would make
    /// every existing file look like some other program's.
    /// </summary>
    public const int ApplicationId = 0x44727042;

    private static readonly string StampIdentity = $"PRAGMA application_id = {ApplicationId};";

    private static readonly string[] Migrations =
    [
        """
        CREATE TABLE sessions (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL,
            state TEXT NOT NULL,            -- recording | stopped
            origin TEXT NOT NULL,           -- live | dropwatch | perf-script | dropboard
            hosts TEXT NULL,                -- JSON array of host ids to record; NULL = every host
            started_ms INTEGER NOT NULL,
            stopped_ms INTEGER NULL,
            last_write_ms INTEGER NULL,
            notes TEXT NOT NULL DEFAULT '');
        CREATE TABLE session_hosts (
            id INTEGER PRIMARY KEY,
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            host_id TEXT NOT NULL, host_name TEXT NOT NULL, kernel TEXT NOT NULL, source TEXT NOT NULL,
            bucket_ms INTEGER NOT NULL, lost_records INTEGER NOT NULL DEFAULT 0,
            UNIQUE (session_id, host_id));
        CREATE TABLE sites (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL, function TEXT NOT NULL, reason TEXT NULL, protocol INTEGER NOT NULL,
            UNIQUE (site, reason, protocol));
        -- Only non-zero buckets are stored: a quiet site costs nothing.
        CREATE TABLE buckets (
            session_host INTEGER NOT NULL REFERENCES session_hosts(id) ON DELETE CASCADE,
            site INTEGER NOT NULL, start_ms INTEGER NOT NULL, count INTEGER NOT NULL);
        CREATE INDEX buckets_by_host_time ON buckets (session_host, start_ms);
        -- Per-second sums of the same buckets, so histograms and comparisons of long sessions stay fast.
        CREATE TABLE seconds (
            session_host INTEGER NOT NULL REFERENCES session_hosts(id) ON DELETE CASCADE,
            site INTEGER NOT NULL, second INTEGER NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (session_host, site, second)) WITHOUT ROWID;
        CREATE TABLE counters (
            session_host INTEGER NOT NULL REFERENCES session_hosts(id) ON DELETE CASCADE,
            name TEXT NOT NULL, at_ms INTEGER NOT NULL, delta INTEGER NOT NULL);
        CREATE INDEX counters_by_host ON counters (session_host, at_ms);
        CREATE TABLE samples (
            session_host INTEGER NOT NULL REFERENCES session_hosts(id) ON DELETE CASCADE,
            ts_ns INTEGER NOT NULL, site TEXT NOT NULL, function TEXT NOT NULL, reason TEXT NULL, protocol INTEGER NOT NULL,
            in_port TEXT NULL, original_length INTEGER NOT NULL, header BLOB NULL);
        CREATE TABLE gaps (
            session_id INTEGER NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
            from_ms INTEGER NOT NULL, to_ms INTEGER NOT NULL, why TEXT NOT NULL);
        -- Batches already written, so a resend after a dashboard restart is not recorded twice.
        CREATE TABLE batches_seen (
            session_host INTEGER NOT NULL, instance_id TEXT NOT NULL, sequence INTEGER NOT NULL,
            PRIMARY KEY (session_host, instance_id, sequence)) WITHOUT ROWID;
        """,
        """
        CREATE TABLE investigations (
            slug TEXT PRIMARY KEY, title TEXT NOT NULL, created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
            version INTEGER NOT NULL, body TEXT NOT NULL);
        CREATE TABLE investigation_history (
            slug TEXT NOT NULL REFERENCES investigations(slug) ON DELETE CASCADE,
            version INTEGER NOT NULL, saved_ms INTEGER NOT NULL, body TEXT NOT NULL,
            PRIMARY KEY (slug, version));
        """,
        // Recording rate and read speed: buckets clustered by host and time (appends land at the end of the
        // tree, no second index to maintain), and each host's drop and row totals kept as they are written.
        """
        CREATE TABLE buckets_by_time (
            session_host INTEGER NOT NULL REFERENCES session_hosts(id) ON DELETE CASCADE,
            start_ms INTEGER NOT NULL, site INTEGER NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (session_host, start_ms, site)) WITHOUT ROWID;
        INSERT INTO buckets_by_time SELECT session_host, start_ms, site, sum(count) FROM buckets GROUP BY session_host, start_ms, site;
        DROP TABLE buckets;
        ALTER TABLE buckets_by_time RENAME TO buckets;
        CREATE TABLE seconds_by_time (
            session_host INTEGER NOT NULL REFERENCES session_hosts(id) ON DELETE CASCADE,
            second INTEGER NOT NULL, site INTEGER NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (session_host, second, site)) WITHOUT ROWID;
        INSERT INTO seconds_by_time SELECT session_host, second, site, count FROM seconds;
        DROP TABLE seconds;
        ALTER TABLE seconds_by_time RENAME TO seconds;
        ALTER TABLE session_hosts ADD COLUMN drops INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE session_hosts ADD COLUMN bucket_rows INTEGER NOT NULL DEFAULT 0;
        UPDATE session_hosts SET
            drops = (SELECT coalesce(sum(count), 0) FROM buckets WHERE session_host = session_hosts.id),
            bucket_rows = (SELECT count(*) FROM buckets WHERE session_host = session_hosts.id);
        """,
        // Access: only hashes are stored; a secret is shown once, when it is made.
        """
        CREATE TABLE users (
            name TEXT PRIMARY KEY COLLATE NOCASE, role TEXT NOT NULL, password_hash TEXT NOT NULL,
            created_ms INTEGER NOT NULL, stamp TEXT NOT NULL);
        CREATE TABLE api_tokens (
            name TEXT PRIMARY KEY COLLATE NOCASE, role TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
            created_ms INTEGER NOT NULL);
        -- host_id is pinned by the credential's first batch, so a credential cannot speak for another machine.
        CREATE TABLE agent_credentials (
            host TEXT PRIMARY KEY COLLATE NOCASE, token_hash TEXT NOT NULL UNIQUE, host_id TEXT NULL UNIQUE,
            created_ms INTEGER NOT NULL);
        """,
        // Identity: files made before this step are recognised once by their tables and stamped here.
        StampIdentity,
        // What a counter counts, in words (a netfilter rule's text): the latest an agent sent, per host of a session.
        """
        CREATE TABLE counter_texts (
            session_host INTEGER NOT NULL REFERENCES session_hosts(id) ON DELETE CASCADE,
            name TEXT NOT NULL, text TEXT NOT NULL,
            PRIMARY KEY (session_host, name)) WITHOUT ROWID;
        """,
        // A session id is never given twice: investigations name sessions by id, and without AUTOINCREMENT SQLite gives
        // the id of a deleted newest session to the next one. Rebuilt with foreign keys off (Migrate), so nothing cascades.
        """
        CREATE TABLE sessions_numbered (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            name TEXT NOT NULL,
            state TEXT NOT NULL,            -- recording | stopped
            origin TEXT NOT NULL,           -- live | dropwatch | perf-script | dropboard
            hosts TEXT NULL,                -- JSON array of host ids to record; NULL = every host
            started_ms INTEGER NOT NULL,
            stopped_ms INTEGER NULL,
            last_write_ms INTEGER NULL,
            notes TEXT NOT NULL DEFAULT '');
        INSERT INTO sessions_numbered (id, name, state, origin, hosts, started_ms, stopped_ms, last_write_ms, notes)
            SELECT id, name, state, origin, hosts, started_ms, stopped_ms, last_write_ms, notes FROM sessions;
        DROP TABLE sessions;
        ALTER TABLE sessions_numbered RENAME TO sessions;
        """,
        // Per-minute sums beside the per-second ones, so long sessions are read in minutes; and how far retention has
        // thinned a session out: before buckets_from_ms its 10 ms rows are gone (its seconds remain), before
        // seconds_from_ms its seconds too (its minutes remain). NULL: nothing thinned out.
        """
        CREATE TABLE minutes (
            session_host INTEGER NOT NULL REFERENCES session_hosts(id) ON DELETE CASCADE,
            minute INTEGER NOT NULL, site INTEGER NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (session_host, minute, site)) WITHOUT ROWID;
        INSERT INTO minutes (session_host, minute, site, count)
            SELECT session_host, (second - ((second % 60) + 60) % 60) / 60, site, sum(count) FROM seconds GROUP BY 1, 2, 3;
        ALTER TABLE sessions ADD COLUMN buckets_from_ms INTEGER NULL;
        ALTER TABLE sessions ADD COLUMN seconds_from_ms INTEGER NULL;
        """,
        // Network namespaces (the bpf source names each drop's): a site is also the namespace it dropped in, with the
        // name the agent gave it, and a counter the namespace it was read in; 0 where the source does not say. Site ids
        // are kept, so buckets and seconds still point at their sites.
        """
        CREATE TABLE sites_netns (
            id INTEGER PRIMARY KEY,
            site TEXT NOT NULL, function TEXT NOT NULL, reason TEXT NULL, protocol INTEGER NOT NULL,
            netns INTEGER NOT NULL DEFAULT 0, netns_name TEXT NULL,
            UNIQUE (site, reason, protocol, netns));
        INSERT INTO sites_netns (id, site, function, reason, protocol) SELECT id, site, function, reason, protocol FROM sites;
        DROP TABLE sites;
        ALTER TABLE sites_netns RENAME TO sites;
        ALTER TABLE counters ADD COLUMN netns INTEGER NOT NULL DEFAULT 0;
        """,
        // Dropped flows (the bpf source samples packets' headers): per host and (site, namespace) the drops sampled and
        // not sampled, and each flow's sampled drops; both bounded per host (SessionStore.WriteFlows).
        """
        CREATE TABLE flow_sites (
            session_host INTEGER NOT NULL REFERENCES session_hosts(id) ON DELETE CASCADE,
            site TEXT NOT NULL, function TEXT NOT NULL, netns INTEGER NOT NULL, netns_name TEXT NULL,
            sampled INTEGER NOT NULL, not_sampled INTEGER NOT NULL,
            PRIMARY KEY (session_host, site, netns)) WITHOUT ROWID;
        CREATE TABLE flows (
            session_host INTEGER NOT NULL REFERENCES session_hosts(id) ON DELETE CASCADE,
            site TEXT NOT NULL, netns INTEGER NOT NULL,
            ip_protocol INTEGER NOT NULL, source TEXT NOT NULL, source_port INTEGER NOT NULL,
            destination TEXT NOT NULL, destination_port INTEGER NOT NULL, ifindex INTEGER NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (session_host, site, netns, ip_protocol, source, source_port, destination, destination_port, ifindex)) WITHOUT ROWID;
        """,
        // Per-10-second sums beside the per-second ones (kept as long as those: where retention left only minutes there
        // are none), so a chart in 10 s steps, as an hour's is drawn, reads a tenth of the rows.
        """
        CREATE TABLE tens (
            session_host INTEGER NOT NULL REFERENCES session_hosts(id) ON DELETE CASCADE,
            ten INTEGER NOT NULL, site INTEGER NOT NULL, count INTEGER NOT NULL,
            PRIMARY KEY (session_host, ten, site)) WITHOUT ROWID;
        INSERT INTO tens (session_host, ten, site, count)
            SELECT session_host, (second - ((second % 10) + 10) % 10) / 10, site, sum(count) FROM seconds GROUP BY 1, 2, 3;
        """,
    ];

    /// <summary>The schema version from which every DropBoard file carries <see cref="ApplicationId"/>.</summary>
    private static readonly int IdentifiedSince = Array.IndexOf(Migrations, StampIdentity) + 1;

    /// <summary>Where the data is, for messages: the file, or the PostgreSQL server and database.</summary>
    public string Path => Engine.Where;

    /// <summary>SQLite or PostgreSQL: how to connect, and the few queries they spell differently.</summary>
    public StoreEngine Engine { get; }

    /// <summary>The SQLite file's schema version.</summary>
    public static int SchemaVersion => Migrations.Length;

    private SessionDatabase(StoreEngine engine) => Engine = engine;

    /// <param name="setting">A file, or a PostgreSQL connection string (<c>Host=…</c>).</param>
    /// <exception cref="SessionDatabaseException">The file is damaged, foreign, newer than this build, or locked; the server cannot be used.</exception>
    public static SessionDatabase Open(string setting) =>
        PostgresEngine.IsConnectionString(setting) ? new SessionDatabase(PostgresEngine.Open(setting)) : OpenFile(setting);

    private static SessionDatabase OpenFile(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(full)!);
        var existed = File.Exists(full) && new FileInfo(full).Length > 0;
        var database = new SessionDatabase(new SqliteEngine(full));
        try
        {
            if (existed) Identify(full);
            using var connection = database.Connect();
            // Before anything else, so even a first start killed at once leaves a file that says whose it is.
            if (!existed) connection.Execute(StampIdentity);
            Migrate(connection);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 5 or 6) // SQLITE_BUSY, SQLITE_LOCKED
        {
            throw new SessionDatabaseException($"database {full} is locked by another process ({e.Message}); stop it or set DropBoard:Database to another file", e);
        }
        catch (SqliteException e) when (e.SqliteErrorCode is 11 or 26) // SQLITE_CORRUPT, SQLITE_NOTADB
        {
            throw new SessionDatabaseException($"database {full} is damaged or not an SQLite file ({e.Message}); it was left untouched: move it aside or set DropBoard:Database to another file", e);
        }
        return database;
    }

    /// <param name="busySeconds">How long a statement waits for another writer's lock.</param>
    public DbConnection Connect(int busySeconds = 5) => Engine.Connect(busySeconds);

    /// <summary>
    /// Whose the existing file is, seen through a connection that cannot write: DropBoard's when it carries
    /// <see cref="ApplicationId"/> at a version this build knows, or when it was made before files carried it and
    /// has exactly DropBoard's tables for its version. Anything else is refused, naming the file.
    /// </summary>
    private static void Identify(string path)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = ReadOnlyUri(path), Mode = SqliteOpenMode.ReadOnly, Pooling = false, DefaultTimeout = 5,
        }.ToString());
        try
        {
            connection.Open();
            var id = connection.ExecuteScalar<int>("PRAGMA application_id");
            var version = connection.ExecuteScalar<long>("PRAGMA user_version");
            if (id == ApplicationId && version > Migrations.Length)
                throw new SessionDatabaseException($"database {path} has schema version {version}, newer than this DropBoard ({Migrations.Length}); it was left untouched: upgrade DropBoard");
            if (id != ApplicationId && id != 0)
                throw new SessionDatabaseException($"{path} is the database of another program (application_id 0x{id:X8}, DropBoard's is 0x{ApplicationId:X8}); it was left untouched: set DropBoard:Database to another file");
            if (id == 0)
            {
                var tables = Tables(connection);
                if (version < 1 || version >= IdentifiedSince || !tables.SetEquals(TablesAt(version)))
                    throw new SessionDatabaseException($"{path} is an SQLite database of something else (user_version {version}, tables: {string.Join(", ", tables.Order().Take(5))}); it was left untouched: set DropBoard:Database to another file");
            }
            // Reads every page: a damaged file fails here, before anything is written to it.
            var check = connection.ExecuteScalar<string>("PRAGMA quick_check");
            if (check != "ok")
                throw new SessionDatabaseException($"database {path} is damaged (quick_check: {check}); it was left untouched: move it aside or set DropBoard:Database to another file");
        }
        catch (SqliteException e) when (e.SqliteErrorCode == 14) // SQLITE_CANTOPEN: a -wal without its -shm cannot be read without writing one
        {
            throw new SessionDatabaseException($"database {path} cannot be read without writing to it ({e.Message}; is its -shm file missing?); it was left untouched: "
                                               + "if it is DropBoard's, open it once with sqlite3 to recover it, else set DropBoard:Database to another file", e);
        }
    }

    /// <summary>
    /// A look that writes nothing, not even beside the file: with a WAL, its index (-shm) is only read (SQLite keeps
    /// its own copy in memory when no writer keeps it current); without one, the file is taken as it stands, which
    /// also keeps SQLite from creating a -wal and -shm for it.
    /// </summary>
    private static string ReadOnlyUri(string path)
    {
        var uri = "file:" + path.Replace("%", "%25").Replace("?", "%3f").Replace("#", "%23");
        var wal = new FileInfo(path + "-wal");
        return wal.Exists && wal.Length > 0 ? uri + "?mode=ro&readonly_shm=1" : uri + "?immutable=1";
    }

    /// <summary>The tables a file of <paramref name="version"/> has: the migrations up to it, replayed in memory.</summary>
    private static HashSet<string> TablesAt(long version)
    {
        using var memory = new SqliteConnection("Data Source=:memory:;Pooling=False");
        memory.Open();
        foreach (var step in Migrations.Take((int)version)) memory.Execute(step);
        return Tables(memory);
    }

    // SQLite's own bookkeeping (sqlite_stat1 after an ANALYZE) says nothing about whose the file is.
    private static HashSet<string> Tables(SqliteConnection connection) =>
        connection.Query<string>("SELECT name FROM sqlite_master WHERE type = 'table' AND substr(name, 1, 7) <> 'sqlite_'")
            .ToHashSet(StringComparer.OrdinalIgnoreCase);

    private static void Migrate(DbConnection connection)
    {
        // Exclusive while migrating: fails fast (busy) when another process holds the file.
        connection.Execute("PRAGMA journal_mode = WAL;");
        var version = connection.ExecuteScalar<long>("PRAGMA user_version");
        // Off while tables are rebuilt (it cannot change inside a transaction): dropping a parent table would cascade.
        connection.Execute("PRAGMA foreign_keys = OFF");
        try
        {
            for (var v = (int)version; v < Migrations.Length; v++)
            {
                using var transaction = connection.BeginTransaction();
                connection.Execute(Migrations[v], transaction: transaction);
                connection.Execute($"PRAGMA user_version = {v + 1}", transaction: transaction);
                transaction.Commit();
            }
        }
        finally
        {
            connection.Execute("PRAGMA foreign_keys = ON");
        }
    }
}
