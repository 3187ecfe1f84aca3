using System.Net.Http.Json;
using System.Runtime.Versioning;
using System.Text.Json;
using DropBoard.Agent;
using DropBoard.Agent.Uplink;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using static DropBoard.Web.Tests.Sessions.SessionApiReads;

namespace DropBoard.Web.Tests.Live;

/// <summary>
/// A real agent process streaming real kernel drops to the real web app over SignalR on loopback; the web
/// app is killed mid-stream and brought back. Drops made while it was away arrive once, none twice; a batch
/// recorded by a dashboard that died before its acknowledgement reached the agent is sent again and recorded
/// once; a batch refused for good is kept aside; a full spool keeps what it has and the rest waits in memory.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class AgentUplinkTests
{
    private const string Token = "uplink-test-token";

    [Fact]
    public async Task Drops_made_while_the_dashboard_was_down_arrive_exactly_once_after_it_comes_back()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var port = WebAppProcess.FreePort();
        var settings = new[] { $"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false" };
        var spool = Directory.CreateTempSubdirectory("dropboard-spool-");
        await using var first = await WebAppProcess.StartAsync(port, settings);
        using var agent = AgentProcess.Start("run", "--server", $"http://127.0.0.1:{port}", "--token", Token,
            "--spool", spool.FullName, "--netns", ns.Name, "--source", "tracepoint");
        await agent.WaitUntilCapturingAsync();
        var host = await LiveApiReads.FirstHostAsync(first);

        // Drops while the dashboard is up: they must show, and be acknowledged, before it dies.
        var before = ns.Snmp("Udp", "RcvbufErrors");
        UdpTraffic.OverflowReceiveBuffer(ns, 1500, port: 7201);
        var dropsA = ns.Snmp("Udp", "RcvbufErrors") - before;
        Assert.Equal(dropsA, await LiveApiReads.WaitForReasonCountAsync(first, host, "SOCKET_RCVBUFF", dropsA));
        // The counter delta comes with the next one-second sample: let it arrive too, or it lands after the restart.
        Assert.Equal(dropsA, await LiveApiReads.WaitForCounterSumAsync(first, host, "Udp.RcvbufErrors", dropsA));
        await WaitUntilSpoolEmptyAsync(spool, agent);
        await first.DisposeAsync();

        // Drops while it is down: the agent spools them.
        before = ns.Snmp("Udp", "RcvbufErrors");
        var (sent, received) = UdpTraffic.OverflowReceiveBuffer(ns, 2500, port: 7202);
        var dropsB = ns.Snmp("Udp", "RcvbufErrors") - before;
        Assert.Equal(sent - received, dropsB);
        var unreachable = agent.TimesSaid("server unreachable");
        await agent.WaitUntilAsync(() => agent.TimesSaid("server unreachable") > unreachable, "a retry against the closed port");

        await using var second = await WebAppProcess.StartAsync(port, settings);
        var reported = await LiveApiReads.WaitForReasonCountAsync(second, host, "SOCKET_RCVBUFF", dropsB, TimeSpan.FromSeconds(40));
        // A resend can only come from the spool: once it is empty, every batch was answered and the count is final.
        await WaitUntilSpoolEmptyAsync(spool, agent);
        Assert.Equal(dropsB, await LiveApiReads.ReasonCountAsync(second, host, "SOCKET_RCVBUFF"));
        Assert.Equal(dropsB, reported);
        Assert.Equal(dropsB, await LiveApiReads.CounterSumAsync(second, host, "Udp.RcvbufErrors"));
        Assert.Contains("server unreachable", agent.Stderr);
        spool.Delete(recursive: true);
    }

    [Fact]
    public async Task An_agent_run_with_session_records_its_drops_into_that_session_and_stops_it_on_exit()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        var spool = Directory.CreateTempSubdirectory("dropboard-spool-");
        using var agent = AgentProcess.Start("run", "--server", app.BaseAddress.ToString(), "--token", Token, "--spool", spool.FullName,
            "--netns", ns.Name, "--source", "tracepoint", "--session", "from the agent");
        await agent.WaitUntilCapturingAsync();
        var host = await LiveApiReads.FirstHostAsync(app);
        for (var i = 0; i < 50 && !agent.Stderr.Contains("recording into session"); i++) await Task.Delay(100);

        var before = ns.Snmp("Udp", "RcvbufErrors");
        UdpTraffic.OverflowReceiveBuffer(ns, 1500, port: 7203);
        var drops = ns.Snmp("Udp", "RcvbufErrors") - before;
        await LiveApiReads.WaitForCounterSumAsync(app, host, "Udp.RcvbufErrors", drops);
        agent.Terminate();
        Assert.Equal(0, await agent.WaitForExitAsync());

        var session = (await app.Http.GetFromJsonAsync<JsonElement>("api/sessions")).EnumerateArray().Single();
        Assert.Equal(("from the agent", "stopped"), (session.GetProperty("name").GetString(), session.GetProperty("state").GetString()));
        Assert.Equal(host, session.GetProperty("hosts").EnumerateArray().Single().GetProperty("hostId").GetString());
        var sites = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{session.GetProperty("id").GetInt64()}/sites");
        Assert.Equal(drops, sites.EnumerateArray().Where(s => s.GetProperty("reason").GetString() == "SOCKET_RCVBUFF").Sum(s => s.GetProperty("count").GetInt64()));
        spool.Delete(recursive: true);
    }

    [Fact]
    public async Task An_agent_with_a_wrong_token_exits_with_a_message_naming_the_setting()
    {
        Privileged.RequireRoot();
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        var spool = Directory.CreateTempSubdirectory("dropboard-spool-");
        using var agent = AgentProcess.Start("run", "--server", app.BaseAddress.ToString(), "--token", "wrong", "--spool", spool.FullName);

        Assert.Equal(5, await agent.WaitForExitAsync());
        Assert.Contains("refused the token (HTTP 401)", agent.Stderr);
        Assert.Contains("DropBoard:AgentToken", agent.Stderr);
        Assert.Contains("wrong token", app.Log);
        Assert.Equal("[]", await app.Http.GetStringAsync("api/hosts"));
        spool.Delete(recursive: true);
    }

    [Fact]
    [SupportedOSPlatform("linux")]
    public async Task An_agent_streams_with_its_token_in_a_0600_file_and_refuses_a_0644_one_before_connecting()
    {
        Privileged.RequireRoot();
        using var _ = KernelTestLock.Acquire();
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        var directory = Directory.CreateTempSubdirectory("dropboard-token-file-");
        var tokenFile = Path.Combine(directory.FullName, "agent-token");
        File.WriteAllText(tokenFile, Token + "\n");
        string[] run = ["run", "--server", app.BaseAddress.ToString(), "--token-file", tokenFile, "--spool", Path.Combine(directory.FullName, "spool"),
            "--source", "tracepoint"];

        // The right token, but every user of the host could read it: refused before capturing or connecting.
        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        using (var refused = AgentProcess.Start(run))
        {
            Assert.Equal(ExitCodes.CredentialFile, await refused.WaitForExitAsync());
            Assert.Contains($"chmod 600 {tokenFile}", refused.Stderr);
            Assert.DoesNotContain("streaming", refused.Stderr);
            Assert.DoesNotContain("connected", refused.Stderr);
        }
        Assert.Equal("[]", await app.Http.GetStringAsync("api/hosts"));

        File.SetUnixFileMode(tokenFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        using var agent = AgentProcess.Start(run);
        await agent.WaitUntilCapturingAsync();
        // A host is listed once its first batch has arrived.
        await LiveApiReads.FirstHostAsync(app);
        // Stopped before its spool is removed: a running agent writes batches there until the end.
        agent.Terminate();
        Assert.Equal(ExitCodes.Ok, await agent.WaitForExitAsync());
        directory.Delete(recursive: true);
    }

    [Fact]
    public async Task A_half_written_spool_file_is_never_taken_for_a_batch_and_the_agent_streams_the_rest()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var port = WebAppProcess.FreePort(); // nothing listens there yet
        var spool = Directory.CreateTempSubdirectory("dropboard-spool-");
        string[] run = ["run", "--server", $"http://127.0.0.1:{port}", "--token", Token, "--spool", spool.FullName, "--netns", ns.Name, "--source", "tracepoint"];
        var before = ns.Snmp("Udp", "RcvbufErrors");
        using (var first = AgentProcess.Start(run))
        {
            // Real spool files, with real drops in them: written while no dashboard listens.
            await first.WaitUntilCapturingAsync();
            UdpTraffic.OverflowReceiveBuffer(ns, 1500, port: 7205);
            var made = ns.Snmp("Udp", "RcvbufErrors") - before;
            await first.WaitUntilAsync(() => SpoolReads.Batches(spool.FullName).Sum(b => b.RcvbufDrops) >= made, $"{made} drops in the spool");
            first.Terminate();
            Assert.Equal(ExitCodes.Unsent, await first.WaitForExitAsync());
            Assert.Contains("they wait in the spool for the next run", first.Stderr);
        }
        var drops = ns.Snmp("Udp", "RcvbufErrors") - before;
        var spooled = SpoolReads.Batches(spool.FullName).OrderBy(b => b.Sequence).ToList();
        Assert.Equal(drops, spooled.Sum(b => b.RcvbufDrops));

        // What a power cut leaves where the bytes are not flushed before the rename: a batch with drops cut short under
        // its complete name. And what it leaves where they are: a batch cut short under its temporary name.
        var halved = spooled.First(b => b.RcvbufDrops > 0);
        File.WriteAllBytes(halved.File, File.ReadAllBytes(halved.File)[..(int)(new FileInfo(halved.File).Length / 2)]);
        var unfinished = spooled.Last(b => b != halved);
        File.WriteAllBytes(unfinished.File + ".tmp", File.ReadAllBytes(unfinished.File)[..(int)(new FileInfo(unfinished.File).Length / 2)]);
        File.Delete(unfinished.File);

        await using var app = await WebAppProcess.StartAsync(port, $"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        using var agent = AgentProcess.Start(run);
        await agent.WaitUntilCapturingAsync();
        var host = await LiveApiReads.FirstHostAsync(app);
        await WaitUntilSpoolEmptyAsync(spool, agent);

        // Every whole batch arrived; neither cut one counted.
        Assert.Equal(drops - halved.RcvbufDrops - unfinished.RcvbufDrops, await LiveApiReads.ReasonCountAsync(app, host, "SOCKET_RCVBUFF"));
        Assert.True(File.Exists(halved.File + ".bad"), "the half-written batch was not moved aside");
        Assert.Contains($"spool file {halved.File}: unreadable", agent.Stderr);
        Assert.Contains($"moved aside to {halved.File}.bad", agent.Stderr);
        Assert.False(File.Exists(unfinished.File + ".tmp"), "the unfinished write was left in the spool");
        await StopAndDeleteSpoolAsync(agent, spool);
    }

    [Fact]
    public async Task A_batch_the_dashboard_recorded_but_whose_ack_was_lost_is_resent_after_a_restart_and_recorded_once()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var port = WebAppProcess.FreePort();
        // One database file for the three dashboards, so the session and what it has recorded outlive each of them.
        string[] settings = [$"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false", $"DropBoard:Database={WebAppProcess.NewDatabasePath()}"];
        var spool = Directory.CreateTempSubdirectory("dropboard-spool-");
        await using var relay = new AckLosingRelay(port);
        await using var first = await WebAppProcess.StartAsync(port, settings);
        var session = await CreateAsync(first, "across restarts");
        using var agent = AgentProcess.Start("run", "--server", $"http://127.0.0.1:{relay.Port}", "--token", Token,
            "--spool", spool.FullName, "--netns", ns.Name, "--source", "tracepoint");
        await agent.WaitUntilCapturingAsync();
        await LiveApiReads.FirstHostAsync(first);
        await first.DisposeAsync();

        // Drops while no dashboard is up wait in the spool, where the test sees which batch holds the last of them.
        var before = ns.Snmp("Udp", "RcvbufErrors");
        UdpTraffic.OverflowReceiveBuffer(ns, 1500, port: 7204);
        var drops = ns.Snmp("Udp", "RcvbufErrors") - before;
        await agent.WaitUntilAsync(() => SpoolReads.Batches(spool.FullName).Sum(b => b.RcvbufDrops) >= drops, $"{drops} drops in the spool");
        Assert.Equal(drops, SpoolReads.Batches(spool.FullName).Sum(b => b.RcvbufDrops));
        var last = SpoolReads.Batches(spool.FullName).Where(b => b.RcvbufDrops > 0).Max(b => b.Sequence);
        relay.LoseAckOf(last);

        // The next dashboard records every drop, but the answer taking the last batch never reaches the agent.
        await using var second = await WebAppProcess.StartAsync(port, settings);
        await agent.WaitUntilAsync(() => relay.Lost.Task.IsCompleted, $"the dashboard's answer taking batch {last}");
        Assert.Equal(drops, await SessionDropsAsync(second, session));
        Assert.Contains(SpoolReads.Batches(spool.FullName), b => b.Sequence == last);
        await second.DisposeAsync();

        // It dies before the agent hears: the dashboard after it gets that batch again, takes it, and records it once.
        await using var third = await WebAppProcess.StartAsync(port, settings);
        await agent.WaitUntilAsync(() => SpoolReads.Batches(spool.FullName).All(b => b.Sequence > last), $"batch {last} sent again and acknowledged");
        Assert.Equal(2, relay.Answers);
        Assert.Equal(drops, await SessionDropsAsync(third, session));
        await StopAndDeleteSpoolAsync(agent, spool);
    }

    [Fact]
    public async Task A_batch_the_dashboard_refuses_for_good_is_kept_as_rejected_with_the_reason_and_the_rest_still_go_out()
    {
        Privileged.RequireRoot();
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        var spool = Directory.CreateTempSubdirectory("dropboard-spool-");
        // Left in the spool by an earlier run: a negative count, which the hub will never take.
        new Spool(spool.FullName, 100).Append(7, new SpoolEntry(new AgentHello("planted", "planted", "6.18", "tracepoint", "old", 10, "earlier-run"),
            new AgentBatch("planted", 7, 1, [new DropBucket("f+0x1", "f", null, 1, -3)], [], [], 0, 0)).ToBytes());
        var planted = spool.GetFiles("*.json").Single().FullName;
        var bytes = File.ReadAllBytes(planted);

        using var agent = AgentProcess.Start("run", "--server", app.BaseAddress.ToString(), "--token", Token, "--spool", spool.FullName, "--source", "tracepoint");
        await agent.WaitUntilAsync(() => agent.Stderr.Contains("server rejected batch 7"), "the agent reporting the refused batch");

        Assert.Matches($@"server rejected batch 7: .*a count that is not positive.*; kept as {System.Text.RegularExpressions.Regex.Escape(planted)}\.rejected", agent.Stderr);
        Assert.False(File.Exists(planted));
        Assert.Equal(bytes, File.ReadAllBytes(planted + ".rejected"));
        // The agent's own batches still go out, and the refused one left no trace on the dashboard.
        var host = await LiveApiReads.FirstHostAsync(app);
        await WaitUntilSpoolEmptyAsync(spool, agent);
        Assert.Equal([host], (await app.Http.GetFromJsonAsync<JsonElement>("api/hosts")).EnumerateArray().Select(h => h.GetProperty("hostId").GetString()));
        Assert.NotEqual("planted", host);
        await StopAndDeleteSpoolAsync(agent, spool);
    }

    [Fact]
    public async Task A_spool_at_its_maximum_keeps_every_batch_it_has_holds_the_next_in_memory_and_sends_all_once_the_dashboard_is_up()
    {
        Privileged.RequireRoot();
        var port = WebAppProcess.FreePort(); // nothing listens there yet
        var spool = Directory.CreateTempSubdirectory("dropboard-spool-");
        using var agent = AgentProcess.Start("run", "--server", $"http://127.0.0.1:{port}", "--token", Token, "--spool", spool.FullName,
            "--spool-max", "5", "--source", "tracepoint");

        await agent.WaitUntilAsync(() => agent.Stderr.Contains("in memory"), "the agent reporting batches in memory");
        Assert.Contains($"cannot keep batches in the spool {spool.FullName}: {spool.FullName} holds --spool-max 5 batches already", agent.Stderr);
        // What stays on disk is the first five: nothing kept is given up for newer batches.
        Assert.Equal([1L, 2, 3, 4, 5], SpoolReads.Batches(spool.FullName).Select(b => b.Sequence).Order());

        await using var app = await WebAppProcess.StartAsync(port, $"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await LiveApiReads.FirstHostAsync(app);
        await WaitUntilSpoolEmptyAsync(spool, agent);
        agent.Terminate();
        Assert.Equal(0, await agent.WaitForExitAsync()); // nothing discarded, nothing left unsent
        Assert.DoesNotContain("discard", agent.Stderr);
        spool.Delete(recursive: true);
    }

    /// <summary>The agent still writes to its spool while it runs: it goes first.</summary>
    private static async Task StopAndDeleteSpoolAsync(AgentProcess agent, DirectoryInfo spool)
    {
        agent.Terminate();
        await agent.WaitForExitAsync();
        spool.Delete(recursive: true);
    }

    private static async Task WaitUntilSpoolEmptyAsync(DirectoryInfo spool, AgentProcess agent) =>
        await agent.WaitUntilAsync(() => spool.GetFiles("*.json").Length == 0, "the spool emptying");

    private static async Task<long> SessionDropsAsync(WebAppProcess app, long session) =>
        (await SitesAsync(app, session)).Where(kv => kv.Key.EndsWith(" SOCKET_RCVBUFF", StringComparison.Ordinal)).Sum(kv => kv.Value);
}
