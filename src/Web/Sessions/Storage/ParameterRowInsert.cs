using System.Data.Common;

namespace DropBoard.Web.Sessions.Storage;

/// <summary>
/// One INSERT of many rows through the provider's named parameters (<c>VALUES (@p0, …), …</c>), prepared once per row
/// count on the writer's connection and reused: a statement's fixed cost (a round trip to a server) is paid per 16 rows
/// rather than per row. Rows are written in chunks of 16, 4 and 1.
/// </summary>
/// <param name="head">Up to <c>VALUES</c>: <c>INSERT INTO t (a, b)</c>.</param>
/// <param name="tail">After the rows: an <c>ON CONFLICT</c> clause, or empty.</param>
/// <param name="bind">Adds one row's values, in column order.</param>
// Not more than 16: the provider looks each parameter up by name in the statement at every run, a cost that grows with their number.
internal sealed class ParameterRowInsert<T>(DbConnection connection, string head, int columns, string tail, Action<T, RowValues> bind)
    : ChunkedRowInsert<T>([16, 4, 1], bind)
{
    private readonly Dictionary<int, DbCommand> _commands = [];
    private readonly Row _row = new();
    private DbCommand? _started;

    protected override RowValues Start(DbTransaction transaction, int rows)
    {
        _started = Command(rows);
        _started.Transaction = transaction;
        _row.Start(_started.Parameters);
        return _row;
    }

    protected override int Run() => _started!.ExecuteNonQuery();

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

    public override void Dispose()
    {
        foreach (var command in _commands.Values) command.Dispose();
        _commands.Clear();
    }

    private sealed class Row : RowValues
    {
        private DbParameterCollection? _parameters;
        private int _next;

        internal void Start(DbParameterCollection parameters) => (_parameters, _next) = (parameters, 0);

        public override void Add(long value) => _parameters![_next++].Value = value;

        public override void Add(string? value) => _parameters![_next++].Value = (object?)value ?? DBNull.Value;
    }
}
