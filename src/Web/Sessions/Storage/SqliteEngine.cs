using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace DropBoard.Web.Sessions.Storage;

/// <summary>An SQLite file: the zero-configuration default. Its schema and migrations are <see cref="SessionDatabase"/>'s.</summary>
public sealed class SqliteEngine(string path) : StoreEngine
{
    private const string OrdinalIgnoreCase = "ordinal_ignore_case";

    private readonly string _connectionString = new SqliteConnectionStringBuilder { DataSource = path, Pooling = true, DefaultTimeout = 5 }.ToString();
    private readonly WalCheckpoints _checkpoints = new(path);

    /// <summary>The size past which the write-ahead log is started over and cut back (<see cref="WalCheckpoints"/>).</summary>
    internal long WalLimitBytes
    {
        get => _checkpoints.LimitBytes;
        set => _checkpoints.LimitBytes = value;
    }

    public override string Where => path;

    public override DbConnection Connect(int busySeconds) =>
        Open(busySeconds == 5 ? _connectionString : new SqliteConnectionStringBuilder(_connectionString) { DefaultTimeout = busySeconds }.ToString(), busySeconds);

    /// <summary>
    /// Not pooled, so its settings never reach another connection: no automatic checkpoint in its commits (<see cref="WalCheckpoints"/>
    /// does them), and the log cut back to <see cref="WalLimitBytes"/> whenever it starts it over.
    /// </summary>
    public override DbConnection ConnectWriter(int busySeconds)
    {
        var connection = Open(new SqliteConnectionStringBuilder(_connectionString) { DefaultTimeout = busySeconds, Pooling = false }.ToString(), busySeconds);
        connection.Execute($"PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WalLimitBytes};");
        return connection;
    }

    public override void Written(DbConnection writer) => _checkpoints.Written((SqliteConnection)writer);

    private static SqliteConnection Open(string connectionString, int busySeconds)
    {
        var connection = new SqliteConnection(connectionString);
        connection.Open();
        // NORMAL is safe with WAL: a power cut may lose the last batches, never the file.
        connection.Execute($"PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {busySeconds * 1000}; PRAGMA synchronous = NORMAL;");
        return connection;
    }

    public override string JsonArray(string pairs, string order) => $"json_group_array(json_object({pairs}) ORDER BY {order})";

    public override string Greatest(string a, string b) => $"max({a}, {b})";

    public override string LikeIgnoringCase => "LIKE";

    public override string OrderIgnoringCase(DbConnection connection, string column)
    {
        ((SqliteConnection)connection).CreateCollation(OrdinalIgnoreCase, (a, b) => string.Compare(a, b, StringComparison.OrdinalIgnoreCase));
        return $"{column} COLLATE {OrdinalIgnoreCase}";
    }

    public override string WrittenOrder => "rowid";

    internal override IRowWriter<T> Rows<T>(DbConnection connection, string head, int columns, string tail, Action<T, RowValues> bind) =>
        new MultiRowInsert<T>((SqliteConnection)connection, head, columns, tail, bind);

    // Rows that were there are few (a bucket in parts): a trigger on the writer's connection notes just those, cheaper
    // than RETURNING every row.
    internal override IRowWriter<DropRow>? DropRows(DbConnection connection, string table, string time, Action<DropRow>? stored = null) =>
        stored is null ? null : new SqliteRowsAddedTo((SqliteConnection)connection, table, time, stored);

    public override bool IsDuplicate(DbException e) => e is SqliteException { SqliteErrorCode: 19 }; // SQLITE_CONSTRAINT

    public override string DescribeWriteFailure(DbException e) => (e as SqliteException)?.SqliteErrorCode switch
    {
        13 => $"the disk holding {path} is full (SQLite: {e.Message}); free some space",
        5 or 6 => $"{path} is locked by another process for more than {SessionStore.WriterBusyTimeout.TotalSeconds:0} s (SQLite: {e.Message})",
        8 => $"{path} is read-only (SQLite: {e.Message})",
        10 => $"I/O error writing {path} (SQLite: {e.Message})",
        _ => $"{path} could not be written (SQLite: {e.Message})",
    };
}
