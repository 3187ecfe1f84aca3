using System.Data.Common;
using NpgsqlTypes;

namespace DropBoard.Web.Sessions.Storage;

/// <summary>
/// Drop rows upserted into PostgreSQL in one statement however many there are: the rows go as four arrays, which
/// <c>unnest</c> turns back into rows; one round trip a table a transaction instead of one per 16 rows. (COPY would
/// not add a count to a row already there.) A transaction's rows are summed per key first, so no row is hit twice.
/// </summary>
internal sealed class DropRowArrays : IRowWriter<DropRow>
{
    private readonly Action<DropRow>? _stored;
    private readonly DbCommand _command;
    private readonly Npgsql.NpgsqlParameter<long[]> _hosts = new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint };
    private readonly Npgsql.NpgsqlParameter<long[]> _times = new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint };
    private readonly Npgsql.NpgsqlParameter<long[]> _sites = new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint };
    private readonly Npgsql.NpgsqlParameter<long[]> _counts = new() { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Bigint };

    /// <param name="stored">Called with each row that was there before, as the table holds it after the upsert.</param>
    public DropRowArrays(DbConnection connection, string table, string time, Action<DropRow>? stored)
    {
        _command = connection.CreateCommand();
        // Positional ($1 …): a statement without names is sent as it is.
        var upsert = $"INSERT INTO {table} (session_host, {time}, site, count) SELECT * FROM unnest($1, $2, $3, $4) " +
                     $"ON CONFLICT (session_host, {time}, site) DO UPDATE SET count = {table}.count + excluded.count";
        // Only the rows that were there (their count is now more than what was sent) come back: few, where every row would be many.
        _command.CommandText = stored is null ? upsert :
            $"WITH sent (session_host, {time}, site, count) AS (SELECT * FROM unnest($1, $2, $3, $4)), " +
            $"up AS ({upsert.Replace("unnest($1, $2, $3, $4)", "sent", StringComparison.Ordinal)} RETURNING session_host, {time}, site, count) " +
            $"SELECT up.session_host, up.{time}, up.site, up.count FROM up JOIN sent USING (session_host, {time}, site) WHERE up.count <> sent.count";
        _stored = stored;
        _command.Parameters.AddRange(new[] { _hosts, _times, _sites, _counts });
    }

    public int Write(DbTransaction transaction, IReadOnlyList<DropRow> rows)
    {
        if (rows.Count == 0) return 0;
        var (hosts, times, sites, counts) = (new long[rows.Count], new long[rows.Count], new long[rows.Count], new long[rows.Count]);
        for (var i = 0; i < rows.Count; i++)
            (hosts[i], times[i], sites[i], counts[i]) = (rows[i].Host, rows[i].At, rows[i].Site, rows[i].Count);
        (_hosts.TypedValue, _times.TypedValue, _sites.TypedValue, _counts.TypedValue) = (hosts, times, sites, counts);
        _command.Transaction = transaction;
        if (_stored is null) return _command.ExecuteNonQuery();
        using var reader = _command.ExecuteReader();
        while (reader.Read()) _stored(new DropRow(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3)));
        return rows.Count; // each inserted or added to
    }

    public void Dispose() => _command.Dispose();
}
