using System.Data.Common;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace DropBoard.Web.Sessions;

/// <summary>Writes a transaction's rows of one kind, in as few statements as the engine allows.</summary>
internal interface IRowWriter<in T> : IDisposable
{
    /// <summary>Writes the rows in <paramref name="transaction"/>, the connection's open one.</summary>
    /// <returns>How many rows were inserted or updated (an <c>ON CONFLICT DO NOTHING</c> row that was there counts 0).</returns>
    int Write(DbTransaction transaction, IReadOnlyList<T> rows);
}

/// <summary>The statement being filled: each value goes to the next parameter, in column order.</summary>
internal abstract class RowValues
{
    public abstract void Add(long value);

    public abstract void Add(string? value);
}

/// <summary>Rows written in statements of <paramref name="chunks"/> rows each (the largest that fits first), one statement per row count.</summary>
/// <param name="bind">Adds one row's values, in column order.</param>
internal abstract class ChunkedRowInsert<T>(int[] chunks, Action<T, RowValues> bind) : IRowWriter<T>
{
    public int Write(DbTransaction transaction, IReadOnlyList<T> rows)
    {
        var at = 0;
        var changed = 0;
        foreach (var chunk in chunks)
        {
            for (; rows.Count - at >= chunk; at += chunk)
            {
                var values = Start(transaction, chunk);
                for (var r = 0; r < chunk; r++) bind(rows[at + r], values);
                changed += Run();
            }
        }
        return changed;
    }

    /// <summary>Readies the statement of <paramref name="rows"/> rows for its values.</summary>
    protected abstract RowValues Start(DbTransaction transaction, int rows);

    /// <summary>Runs the statement started last.</summary>
    /// <returns>How many rows it inserted or updated.</returns>
    protected abstract int Run();

    public abstract void Dispose();
}

/// <summary>
/// One INSERT of many rows (<c>VALUES (?, …), (?, …), …</c>, standard SQL), prepared once per row count on the writer's
/// connection and reused; rows are written in chunks of 64, 8 and 1. Values are bound by position straight into
/// SQLite's statement: the provider's commands look every parameter up by name and box it at every run, which cost
/// more than SQLite's own work for the recording's small integer rows.
/// </summary>
/// <param name="head">Up to <c>VALUES</c>: <c>INSERT INTO t (a, b)</c>.</param>
/// <param name="tail">After the rows: an <c>ON CONFLICT</c> clause, or empty.</param>
/// <param name="bind">Adds one row's values, in column order.</param>
internal sealed class MultiRowInsert<T>(SqliteConnection connection, string head, int columns, string tail, Action<T, RowValues> bind)
    : ChunkedRowInsert<T>([64, 8, 1], bind)
{
    private readonly Dictionary<int, sqlite3_stmt> _statements = [];
    private readonly Row _row = new();

    // The connection's open transaction is the one given.
    protected override RowValues Start(DbTransaction transaction, int rows)
    {
        _row.Start(Statement(rows));
        return _row;
    }

    /// <exception cref="SqliteException">SQLite refused the statement (disk full, I/O error, …).</exception>
    protected override int Run()
    {
        var rc = raw.sqlite3_step(_row.Statement);
        raw.sqlite3_reset(_row.Statement);
        if (rc != raw.SQLITE_DONE) SqliteException.ThrowExceptionForRC(rc, connection.Handle);
        return raw.sqlite3_changes(connection.Handle);
    }

    private sqlite3_stmt Statement(int rows)
    {
        if (_statements.TryGetValue(rows, out var statement)) return statement;
        var values = string.Join(", ", Enumerable.Repeat("(" + string.Join(", ", Enumerable.Repeat("?", columns)) + ")", rows));
        var rc = raw.sqlite3_prepare_v2(connection.Handle, $"{head} VALUES {values} {tail}", out statement);
        if (rc != raw.SQLITE_OK)
        {
            statement.Dispose();
            SqliteException.ThrowExceptionForRC(rc, connection.Handle);
        }
        return _statements[rows] = statement;
    }

    /// <summary>Finalizes the statements; before their connection is closed, which SQLite would otherwise keep open for them.</summary>
    public override void Dispose()
    {
        foreach (var statement in _statements.Values) statement.Dispose();
        _statements.Clear();
    }

    private sealed class Row : RowValues
    {
        private int _next;

        public sqlite3_stmt Statement { get; private set; } = null!;

        internal void Start(sqlite3_stmt statement) => (Statement, _next) = (statement, 1);

        public override void Add(long value) => Check(raw.sqlite3_bind_int64(Statement, _next++, value));

        public override void Add(string? value) => Check(value is null ? raw.sqlite3_bind_null(Statement, _next++) : raw.sqlite3_bind_text(Statement, _next++, value));

        private static void Check(int rc)
        {
            if (rc != raw.SQLITE_OK) SqliteException.ThrowExceptionForRC(rc, null);
        }
    }
}
