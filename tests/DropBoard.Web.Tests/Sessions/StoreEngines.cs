using System.Data.Common;
using DropBoard.TestKit;
using Microsoft.Data.Sqlite;
using Npgsql;

[assembly: AssemblyFixture(typeof(DropBoard.Web.Tests.Sessions.StoreEngines))]

namespace DropBoard.Web.Tests.Sessions;

/// <summary>
/// The engines the store tests run on: an SQLite file and a real PostgreSQL, a throw-away cluster started at the first
/// test that asks for it and stopped after the last. Tests take <see cref="All"/> as theory data and
/// <see cref="NewDatabaseAsync"/> as their <c>DropBoard:Database</c>.
/// </summary>
public sealed class StoreEngines : IAsyncDisposable
{
    public const string Sqlite = "sqlite", Postgres = "postgres";

    private static StoreEngines? _current;
    private readonly Lazy<Task<PostgresServer>> _postgres = new(() => PostgresServer.StartAsync());

    public StoreEngines() => _current = this;

    public static TheoryData<string> All => [Sqlite, Postgres];

    /// <summary>A new empty database: a file path, or a PostgreSQL connection string.</summary>
    public static async Task<string> NewDatabaseAsync(string engine) => engine switch
    {
        Postgres => (await ServerAsync()).NewDatabase(),
        _ => WebAppProcess.NewDatabasePath(),
    };

    public static Task<PostgresServer> ServerAsync() => (_current ?? throw new InvalidOperationException("the assembly fixture is not set up"))._postgres.Value;

    /// <summary>A connection beside the running app, to look at its rows: read-only for a file.</summary>
    public static DbConnection Look(string database)
    {
        DbConnection connection = database.StartsWith("Host=", StringComparison.Ordinal)
            ? new NpgsqlConnection(database)
            : new SqliteConnection($"Data Source={database};Mode=ReadOnly;Pooling=False");
        connection.Open();
        return connection;
    }

    public async ValueTask DisposeAsync()
    {
        if (_postgres.IsValueCreated && _postgres.Value.IsCompletedSuccessfully) await _postgres.Value.Result.DisposeAsync();
    }
}
