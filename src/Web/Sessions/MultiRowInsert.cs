using System.Data.Common;

namespace DropBoard.Web.Sessions;

/// <summary>Writes a transaction's rows of one kind, in as few statements as the engine allows.</summary>
internal interface IRowWriter<in T>
{
    void Write(DbTransaction transaction, IReadOnlyList<T> rows);
}

/// <summary>
/// One INSERT of many rows (<c>VALUES (…), (…), …</c>, standard SQL), prepared once per row count on the writer's
/// connection and reused: a statement's fixed cost is paid per 16 rows rather than per row. Rows are written in
/// chunks of 16, 4 and 1.
/// </summary>
/// <param name="head">Up to <c>VALUES</c>: <c>INSERT INTO t (a, b)</c>.</param>
/// <param name="tail">After the rows: an <c>ON CONFLICT</c> clause, or empty.</param>
/// <param name="bind">Sets one row's values into the parameters from the given index on.</param>
internal sealed class MultiRowInsert<T>(DbConnection connection, string head, int columns, string tail, Action<T, DbParameterCollection, int> bind) : IRowWriter<T>
{
    // Not more: the provider looks each parameter up by name in the statement at every run, a cost that grows with their number.
    private static readonly int[] Chunks = [16, 4, 1];
    private readonly Dictionary<int, DbCommand> _commands = [];

    public void Write(DbTransaction transaction, IReadOnlyList<T> rows)
    {
        var at = 0;
        foreach (var chunk in Chunks)
        {
            for (; rows.Count - at >= chunk; at += chunk)
            {
                var command = Command(chunk);
                command.Transaction = transaction;
                for (var r = 0; r < chunk; r++) bind(rows[at + r], command.Parameters, r * columns);
                command.ExecuteNonQuery();
            }
        }
    }

    private DbCommand Command(int rows)
    {
        if (_commands.TryGetValue(rows, out var command)) return command;
        command = connection.CreateCommand();
        command.CommandText = $"{head} VALUES {string.Join(", ", Enumerable.Range(0, rows).Select(r =>
            "(" + string.Join(", ", Enumerable.Range(0, columns).Select(c => $"@p{r * columns + c}")) + ")"))} {tail}";
        for (var p = 0; p < rows * columns; p++)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = $"@p{p}";
            command.Parameters.Add(parameter);
        }
        return _commands[rows] = command;
    }
}
