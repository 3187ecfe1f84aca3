using System.Data.Common;
using Npgsql;
using NpgsqlTypes;

namespace DropBoard.Web.Sessions.Storage;

/// <summary>
/// Rows appended to a PostgreSQL table by binary COPY, in the connection's open transaction: one round trip however
/// many rows, no statement to parse, no parameters to bind. Only for plain inserts: COPY cannot add to a row already
/// there (<see cref="DropRowArrays"/> does that).
/// </summary>
/// <param name="table">The table and its columns: <c>counters (session_host, name, …)</c>.</param>
/// <param name="bind">Adds one row's values, in column order.</param>
internal sealed class CopyRows<T>(NpgsqlConnection connection, string table, Action<T, RowValues> bind) : IRowWriter<T>
{
    private readonly string _copy = $"COPY {table} FROM STDIN (FORMAT BINARY)";

    public int Write(DbTransaction transaction, IReadOnlyList<T> rows)
    {
        if (rows.Count == 0) return 0;
        using var importer = connection.BeginBinaryImport(_copy);
        var values = new Row(importer);
        foreach (var row in rows)
        {
            importer.StartRow();
            bind(row, values);
        }
        return (int)importer.Complete();
    }

    public void Dispose()
    {
    }

    private sealed class Row(NpgsqlBinaryImporter importer) : RowValues
    {
        public override void Add(long value) => importer.Write(value, NpgsqlDbType.Bigint);

        public override void Add(string? value)
        {
            if (value is null) importer.WriteNull();
            else importer.Write(value, NpgsqlDbType.Text);
        }
    }
}
