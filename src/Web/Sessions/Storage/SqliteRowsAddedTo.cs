using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace DropBoard.Web.Sessions.Storage;

/// <summary>
/// Drop rows upserted into an SQLite table, telling which rows were there already: a temporary trigger on the writer's
/// connection notes each row an upsert adds to, and those few are read back after the rows are written.
/// </summary>
internal sealed class SqliteRowsAddedTo : IRowWriter<DropRow>
{
    private readonly SqliteConnection _connection;
    private readonly MultiRowInsert<DropRow> _insert;
    private readonly string _added;
    private readonly Action<DropRow> _stored;

    /// <param name="stored">Called with each row that was there before, as it is now.</param>
    public SqliteRowsAddedTo(SqliteConnection connection, string table, string time, Action<DropRow> stored)
    {
        (_connection, _stored, _added) = (connection, stored, $"added_to_{table}");
        _insert = new MultiRowInsert<DropRow>(connection, $"INSERT INTO {table} (session_host, {time}, site, count)", 4,
            $"ON CONFLICT (session_host, {time}, site) DO UPDATE SET count = {table}.count + excluded.count", (row, values) =>
            {
                values.Add(row.Host);
                values.Add(row.At);
                values.Add(row.Site);
                values.Add(row.Count);
            });
        // Temporary: on this connection only, gone with it.
        connection.Execute(
            $"""
            CREATE TEMP TABLE IF NOT EXISTS {_added} (session_host INTEGER, at INTEGER, site INTEGER, count INTEGER);
            CREATE TEMP TRIGGER IF NOT EXISTS {_added} AFTER UPDATE OF count ON main.{table}
            BEGIN INSERT INTO {_added} VALUES (new.session_host, new.{time}, new.site, new.count); END;
            """);
    }

    public int Write(DbTransaction transaction, IReadOnlyList<DropRow> rows)
    {
        var written = _insert.Write(transaction, rows);
        foreach (var row in _connection.Query<DropRow>($"SELECT session_host AS Host, at AS At, site AS Site, count AS Count FROM {_added}", transaction: transaction))
            _stored(row);
        _connection.Execute($"DELETE FROM {_added}", transaction: transaction);
        return written;
    }

    public void Dispose() => _insert.Dispose();
}
