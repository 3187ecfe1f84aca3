using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.TestKit;
using DropBoard.Web.Tests.Live;
using Microsoft.Data.Sqlite;
using static DropBoard.Web.Tests.Sessions.SessionApiReads;

namespace DropBoard.Web.Tests.Sessions;

/// <summary>Sessions recorded from real kernel drops into a real SQLite file, read back by a new process; damaged and locked files.</summary>
[Collection(KernelCollection.Name)]
public sealed class SessionRecordingTests
{
    [Fact]
    public async Task A_recorded_session_reads_back_identically_in_a_new_process_and_matches_the_kernel()
    {
        using var ns = NetNamespace.Create();
        var database = Path.Combine(Path.GetTempPath(), $"dropboard-recording-{Guid.NewGuid():n}.db");
        string[] settings = [$"DropBoard:Database={database}", $"DropBoard:EmbeddedAgentNetNamespace={ns.Name}"];
        long id, drops;
        Dictionary<string, long> recordedSites;
        Dictionary<string, long> recordedCounters;
        using (KernelTestLock.Acquire())
        await using (var app = await WebAppProcess.StartAsync(settings))
        {
            var host = await LiveApiReads.FirstHostAsync(app);
            id = await CreateAsync(app, "before the fix", host);
            var before = ns.Snmp("Udp", "RcvbufErrors");
            UdpTraffic.OverflowReceiveBuffer(ns, 2500, port: 7501);
            drops = ns.Snmp("Udp", "RcvbufErrors") - before;
            // The counter delta comes with the next one-second sample, the drops with the batches that carry them (each
            // stored before it is acknowledged); then nothing more is to come. A loaded machine may take a while.
            for (var i = 0; i < 150 && ((await CountersAsync(app, id, ns)).GetValueOrDefault("Udp.RcvbufErrors") < drops
                                        || (await SitesAsync(app, id, ns)).Where(kv => kv.Key.EndsWith(" SOCKET_RCVBUFF")).Sum(kv => kv.Value) < drops); i++)
                await Task.Delay(200);
            using var stop = await app.Http.PostAsync($"api/sessions/{id}/stop", null);
            Assert.Equal(HttpStatusCode.OK, stop.StatusCode);
            recordedSites = await SitesAsync(app, id, ns);
            recordedCounters = await CountersAsync(app, id, ns);
        }

        Assert.Equal(drops, recordedSites.Where(kv => kv.Key.EndsWith(" SOCKET_RCVBUFF")).Sum(kv => kv.Value));
        Assert.Equal(drops, recordedCounters["Udp.RcvbufErrors"]);

        await using var reopened = await WebAppProcess.StartAsync($"DropBoard:Database={database}", "DropBoard:EmbeddedAgent=false");
        Assert.Equal(recordedSites, await SitesAsync(reopened, id, ns));
        Assert.Equal(recordedCounters, await CountersAsync(reopened, id, ns));
        var session = await reopened.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}");
        Assert.Equal("stopped", session.GetProperty("state").GetString());
        Assert.Equal("before the fix", session.GetProperty("name").GetString());
    }

    [Fact]
    public async Task A_session_recording_when_the_dashboard_stops_resumes_after_a_restart_with_the_gap_marked()
    {
        var database = Path.Combine(Path.GetTempPath(), $"dropboard-resume-{Guid.NewGuid():n}.db");
        long id;
        await using (var app = await WebAppProcess.StartAsync($"DropBoard:Database={database}", "DropBoard:EmbeddedAgent=false"))
            id = await CreateAsync(app, "overnight");
        await Task.Delay(1200);
        await using var again = await WebAppProcess.StartAsync($"DropBoard:Database={database}", "DropBoard:EmbeddedAgent=false");

        var session = await again.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}");
        Assert.Equal("recording", session.GetProperty("state").GetString());
        var gap = session.GetProperty("gaps").EnumerateArray().Single();
        Assert.Equal("dashboard restarted", gap.GetProperty("why").GetString());
        Assert.True(gap.GetProperty("toMs").GetInt64() - gap.GetProperty("fromMs").GetInt64() >= 1000);
    }

    [Fact]
    public async Task A_damaged_database_file_stops_the_start_with_its_name_and_is_left_untouched()
    {
        var database = Path.Combine(Path.GetTempPath(), $"dropboard-damaged-{Guid.NewGuid():n}.db");
        await using (var app = await WebAppProcess.StartAsync($"DropBoard:Database={database}", "DropBoard:EmbeddedAgent=false"))
            await CreateAsync(app, "precious");
        // The killed app left its last writes in the WAL: fold them into the file, then damage the file.
        using (var checkpoint = new SqliteConnection($"Data Source={database};Pooling=False"))
        {
            checkpoint.Open();
            using var command = checkpoint.CreateCommand();
            command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;";
            command.ExecuteNonQuery();
        }
        var bytes = File.ReadAllBytes(database);
        for (var i = 4096; i < bytes.Length; i += 97) bytes[i] ^= 0x5A; // every page after the header, damaged
        File.WriteAllBytes(database, bytes);

        var (exit, output) = await WebAppProcess.RunUntilExitAsync($"DropBoard:Database={database}", "DropBoard:EmbeddedAgent=false");

        Assert.Equal(2, exit);
        Assert.Contains($"database {database} is damaged", output);
        Assert.Contains("left untouched", output);
        Assert.Equal(bytes, File.ReadAllBytes(database));
    }

    [Fact]
    public async Task A_file_that_is_not_a_database_is_refused_and_kept()
    {
        var path = Path.Combine(Path.GetTempPath(), $"dropboard-notes-{Guid.NewGuid():n}.db");
        File.WriteAllText(path, "these are my notes, not a database\n");

        var (exit, output) = await WebAppProcess.RunUntilExitAsync($"DropBoard:Database={path}", "DropBoard:EmbeddedAgent=false");

        Assert.Equal(2, exit);
        Assert.Contains($"database {path} is damaged or not an SQLite file", output);
        Assert.Equal("these are my notes, not a database\n", File.ReadAllText(path));
    }

    [Fact]
    public async Task A_database_locked_by_another_process_stops_the_start_and_says_so()
    {
        var database = Path.Combine(Path.GetTempPath(), $"dropboard-locked-{Guid.NewGuid():n}.db");
        await using (var app = await WebAppProcess.StartAsync($"DropBoard:Database={database}", "DropBoard:EmbeddedAgent=false"))
            await CreateAsync(app, "kept");
        var before = File.ReadAllBytes(database);
        using var holder = new SqliteConnection($"Data Source={database};Pooling=False");
        holder.Open();
        using (var command = holder.CreateCommand())
        {
            command.CommandText = "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE;";
            command.ExecuteNonQuery();
        }

        var (exit, output) = await WebAppProcess.RunUntilExitAsync($"DropBoard:Database={database}", "DropBoard:EmbeddedAgent=false");

        Assert.Equal(2, exit);
        Assert.Contains($"database {database} is locked by another process", output);
        Assert.Equal(before, File.ReadAllBytes(database));
    }
}
