using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using DropBoard.TestKit;
using DropBoard.Web.Sessions;
using Microsoft.Data.Sqlite;
using static DropBoard.Web.Tests.Sessions.SessionApiReads;

namespace DropBoard.Web.Tests.Sessions;

/// <summary>
/// Whose a database file is. Some other program's file, held open by that program so that its -wal and -shm are
/// live, stops the start with a message naming it, and not a byte of the file, its -wal or its -shm changes.
/// DropBoard's own files, also those made before files said whose they are, are opened and keep their data.
/// </summary>
public sealed class DatabaseIdentityTests
{
    // ASCII "DrpB", written out here because files in the field carry this very number.
    private const long DropBoardId = 0x44727042;

    // The last schema made before files carried the id; the id step added no table, so today's tables are its tables.
    private const int LastSchemaWithoutId = 4;

    [Fact]
    public async Task Another_programs_database_with_a_user_version_is_refused_and_it_and_its_wal_and_shm_stay_byte_identical()
    {
        var path = WebAppProcess.NewDatabasePath();
        using var otherProgram = HoldInWal(path, """
            CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
            CREATE TABLE tags (note INTEGER NOT NULL, tag TEXT NOT NULL);
            INSERT INTO notes (body) VALUES ('not DropBoard''s');
            PRAGMA user_version = 3;
            """);

        await AssertRefusedUntouchedAsync(path, $"{path} is an SQLite database of something else (user_version 3, tables: notes, tags)");
    }

    [Fact]
    public async Task DropBoards_tables_and_schema_version_under_another_application_id_are_refused_untouched()
    {
        var path = await DropBoardFileAsync();
        using var otherProgram = HoldInWal(path, "PRAGMA application_id = 1515870810;"); // 0x5A5A5A5A

        await AssertRefusedUntouchedAsync(path, $"{path} is the database of another program (application_id 0x5A5A5A5A");
    }

    [Fact]
    public async Task DropBoards_tables_plus_one_more_without_the_id_are_refused_untouched()
    {
        var path = await DropBoardFileAsync();
        using var otherProgram = HoldInWal(path, $"PRAGMA application_id = 0; PRAGMA user_version = {LastSchemaWithoutId}; CREATE TABLE invoices (id INTEGER);");

        await AssertRefusedUntouchedAsync(path, $"{path} is an SQLite database of something else (user_version {LastSchemaWithoutId}");
    }

    [Fact]
    public async Task A_DropBoard_file_from_a_newer_version_is_refused_untouched()
    {
        var path = await DropBoardFileAsync();
        var newer = SessionDatabase.SchemaVersion + 1;
        using var newerDropBoard = HoldInWal(path, $"PRAGMA user_version = {newer};");

        await AssertRefusedUntouchedAsync(path, $"database {path} has schema version {newer}, newer than this DropBoard");
    }

    [Fact]
    public async Task A_DropBoard_file_made_before_files_carried_the_id_is_opened_with_its_sessions_and_stamped()
    {
        var path = await DropBoardFileAsync();
        // As that version left it: without the tables later migrations add.
        using (var old = Connect(path)) Execute(old, $"DROP TABLE tens; DROP TABLE flows; DROP TABLE flow_sites; DROP TABLE counter_texts; DROP TABLE minutes; ALTER TABLE counters DROP COLUMN netns; PRAGMA application_id = 0; PRAGMA user_version = {LastSchemaWithoutId};");

        await using (var app = await WebAppProcess.StartAsync($"DropBoard:Database={path}", "DropBoard:EmbeddedAgent=false"))
        {
            var sessions = await app.Http.GetFromJsonAsync<JsonElement>("api/sessions");
            Assert.Equal("kept", sessions.EnumerateArray().Single().GetProperty("name").GetString());
        }

        using var stamped = Connect(path);
        Assert.Equal(DropBoardId, Scalar(stamped, "PRAGMA application_id"));
        Assert.Equal(SessionDatabase.SchemaVersion, Scalar(stamped, "PRAGMA user_version"));
    }

    [Fact]
    public async Task A_file_from_before_network_namespaces_keeps_its_sites_rollups_and_counters()
    {
        const long start = 1_750_000_000_000;
        var file = OneHostSessionFile("before netns", "tracepoint", start, start + 120_000,
            $$"""
            {"site":"udp_queue_rcv_one_skb+0x437","function":"udp_queue_rcv_one_skb","reason":"SOCKET_RCVBUFF","startMs":{{start + 500}},"count":70,"protocol":2048},
            {"site":"udp_queue_rcv_one_skb+0x437","function":"udp_queue_rcv_one_skb","reason":"SOCKET_RCVBUFF","startMs":{{start + 61_500}},"count":5,"protocol":2048},
            {"site":"sk_skb_reason_drop+0x10","function":"sk_skb_reason_drop","startMs":{{start + 700}},"count":3,"protocol":0}
            """,
            $$"""
            {"name":"Udp.RcvbufErrors","delta":0,"atMs":{{start + 100}}},
            {"name":"Udp.RcvbufErrors","delta":75,"atMs":{{start + 62_000}}}
            """);
        var path = WebAppProcess.NewDatabasePath();
        long id;
        string sitesBefore, countersBefore;
        await using (var app = await WebAppProcess.StartAsync($"DropBoard:Database={path}", "DropBoard:EmbeddedAgent=false"))
        {
            var (status, body) = await ImportAsync(app, "dropboard", file);
            Assert.True(status == System.Net.HttpStatusCode.Created, body.ToString());
            id = body.GetProperty("sessionId").GetInt64();
            sitesBefore = await app.Http.GetStringAsync($"api/sessions/{id}/sites");
            countersBefore = await app.Http.GetStringAsync($"api/sessions/{id}/counters");
        }
        // As the schema before namespaces left it (and before flows and the 10 s sums, the migrations after it): sites without netns (ids as they were), counters without it.
        using (var old = Connect(path))
            Execute(old, $"""
                CREATE TABLE sites_old (
                    id INTEGER PRIMARY KEY,
                    site TEXT NOT NULL, function TEXT NOT NULL, reason TEXT NULL, protocol INTEGER NOT NULL,
                    UNIQUE (site, reason, protocol));
                INSERT INTO sites_old SELECT id, site, function, reason, protocol FROM sites;
                DROP TABLE sites;
                ALTER TABLE sites_old RENAME TO sites;
                ALTER TABLE counters DROP COLUMN netns;
                DROP TABLE flows;
                DROP TABLE flow_sites;
                DROP TABLE tens;
                PRAGMA user_version = {SessionDatabase.SchemaVersion - 3};
                """);

        await using (var app = await WebAppProcess.StartAsync($"DropBoard:Database={path}", "DropBoard:EmbeddedAgent=false"))
        {
            Assert.Equal(sitesBefore, await app.Http.GetStringAsync($"api/sessions/{id}/sites"));
            Assert.Equal(countersBefore, await app.Http.GetStringAsync($"api/sessions/{id}/counters"));
            // The per-minute rollup still points at its sites: the second minute holds only its 5 drops.
            var secondMinute = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/sites?from={start + 60_000}&to={start + 120_000}");
            Assert.Equal([("udp_queue_rcv_one_skb+0x437", 5L)], secondMinute.EnumerateArray().Select(s => (s.GetProperty("site").GetString()!, s.GetProperty("count").GetInt64())));
        }
        using var upgraded = Connect(path);
        Assert.Equal(SessionDatabase.SchemaVersion, Scalar(upgraded, "PRAGMA user_version"));
        Assert.Equal(0, Scalar(upgraded, "SELECT count(*) FROM sites WHERE netns <> 0"));
        // The 10 s sums are made from the seconds: one row a host, 10 s and site, with their drops.
        Assert.Equal(Scalar(upgraded, "SELECT count(*) FROM (SELECT DISTINCT session_host, second / 10, site FROM seconds)"), Scalar(upgraded, "SELECT count(*) FROM tens"));
        Assert.Equal(Scalar(upgraded, "SELECT sum(count) FROM seconds"), Scalar(upgraded, "SELECT sum(count) FROM tens"));
        Assert.Equal(0, Scalar(upgraded, "SELECT count(*) FROM tens t WHERE count <> (SELECT sum(count) FROM seconds s WHERE s.session_host = t.session_host AND s.site = t.site AND s.second >= t.ten * 10 AND s.second < t.ten * 10 + 10)"));
    }

    /// <summary>A file the current dashboard made, with one session in it; the app is killed, so its -wal and -shm stay.</summary>
    private static async Task<string> DropBoardFileAsync()
    {
        var path = WebAppProcess.NewDatabasePath();
        await using var app = await WebAppProcess.StartAsync($"DropBoard:Database={path}", "DropBoard:EmbeddedAgent=false");
        await CreateAsync(app, "kept");
        return path;
    }

    /// <summary>Writes in WAL mode and stays open, as the program owning the file would: its -wal and -shm are live.</summary>
    private static SqliteConnection HoldInWal(string path, string sql)
    {
        var connection = Connect(path);
        Execute(connection, "PRAGMA journal_mode = WAL; " + sql);
        return connection;
    }

    private static async Task AssertRefusedUntouchedAsync(string path, string expected)
    {
        string[] files = [path, path + "-wal", path + "-shm"];
        Assert.All(files, f => Assert.True(File.Exists(f), $"{f} should exist before the start"));
        var before = files.Select(Hash).ToArray();

        var (exit, output) = await WebAppProcess.RunUntilExitAsync($"DropBoard:Database={path}", "DropBoard:EmbeddedAgent=false");

        Assert.Equal(before, files.Select(Hash).ToArray());
        Assert.True(exit == 2, $"expected exit 2 (refused), got {exit}:\n{output}");
        Assert.Contains(expected, output);
        Assert.Contains("left untouched", output);
    }

    private static string Hash(string file) => $"{Path.GetFileName(file)} {Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)))}";

    private static SqliteConnection Connect(string path)
    {
        var connection = new SqliteConnection($"Data Source={path};Pooling=False");
        connection.Open();
        return connection;
    }

    private static void Execute(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static long Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }
}
