using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using DropBoard.Agent;
using DropBoard.Agent.Tests.Kernel;
using DropBoard.Agent.Uplink;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Faults;

/// <summary>
/// The real agent streaming real kernel drops from a network namespace to the real dashboard while delivery is made
/// to fail: a full disk under the spool, the agent killed outright, the cable to the dashboard pulled for a minute.
/// Every drop the kernel counted (the namespace's Udp RcvbufErrors) arrives exactly once, or its loss is reported
/// exactly.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class DeliveryFaultsTests
{
    private const string Token = "delivery-faults-token";
    private const string Reason = "SOCKET_RCVBUFF";
    private static readonly string[] Settings = [$"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false"];

    [Fact]
    public async Task On_a_full_disk_batches_wait_in_memory_said_once_and_every_drop_arrives_once_the_dashboard_is_back()
    {
        using var ns = NetNamespace.Create();
        using var disk = FullDisk.Create();
        using var _ = KernelTestLock.Acquire();
        var port = WebAppProcess.FreePort(); // nothing listens there yet
        using var agent = AgentProcess.Start("run", "--server", $"http://127.0.0.1:{port}", "--token", Token, "--spool", disk.Directory,
            "--netns", ns.Name, "--source", "tracepoint");
        await agent.WaitUntilCapturingAsync();
        await agent.WaitUntilAsync(() => agent.Stderr.Contains("cannot keep batches in the spool"), "word of the full disk");
        Assert.Contains($"cannot keep batches in the spool {disk.Directory}: No space left on device", agent.Stderr);

        var before = ns.Snmp("Udp", "RcvbufErrors");
        UdpTraffic.OverflowReceiveBuffer(ns, 2500, port: 7211);
        var drops = ns.Snmp("Udp", "RcvbufErrors") - before;
        // The memory backlog as the agent reports it when the dashboard does not answer: nothing on disk, batches in memory.
        var inMemory = new Regex(@"server unreachable .*; 0 batches spooled, (\d+) in memory");
        await agent.WaitUntilAsync(() => inMemory.Matches(agent.Stderr).Any(m => int.Parse(m.Groups[1].Value) >= 8), "8 batches in memory");
        Assert.Empty(Directory.GetFiles(disk.Directory)); // no file, whole or half, on the full disk
        Assert.Equal(1, agent.TimesSaid("cannot keep batches in the spool")); // once for the episode, not once a batch
        Assert.DoesNotContain("discard", agent.Stderr);

        await using var app = await WebAppProcess.StartAsync(port, Settings);
        var host = await LiveApiReads.FirstHostAsync(app);
        Assert.Equal(drops, await LiveApiReads.WaitForReasonCountAsync(app, host, Reason, drops, TimeSpan.FromSeconds(60)));
        // Stopped with the dashboard up, the agent sends what it still holds and has nothing left to say: exit 0.
        agent.Terminate();
        Assert.Equal(0, await agent.WaitForExitAsync());
        Assert.Equal(drops, await LiveApiReads.ReasonCountAsync(app, host, Reason));
        Assert.Equal(drops, await LiveApiReads.CounterSumAsync(app, host, "Udp.RcvbufErrors"));
    }

    [Fact]
    public async Task Past_the_memory_bound_batches_are_discarded_and_what_arrives_plus_the_reported_loss_is_the_kernels_count()
    {
        using var ns = NetNamespace.Create();
        using var disk = FullDisk.Create();
        using var _ = KernelTestLock.Acquire();
        var port = WebAppProcess.FreePort();
        using var agent = AgentProcess.Start("run", "--server", $"http://127.0.0.1:{port}", "--token", Token, "--spool", disk.Directory,
            "--backlog-kb", "4", "--netns", ns.Name, "--source", "tracepoint");
        await agent.WaitUntilCapturingAsync();

        var before = ns.Snmp("Udp", "RcvbufErrors");
        UdpTraffic.OverflowReceiveBuffer(ns, 2500, port: 7212);
        var drops = ns.Snmp("Udp", "RcvbufErrors") - before;
        await agent.WaitUntilAsync(() => agent.Stderr.Contains("discarding new batches"), "word of discarded batches");
        await Task.Delay(TimeSpan.FromSeconds(2)); // more batches come, and go, without more words
        Assert.Equal(1, agent.TimesSaid("discarding new batches"));

        // Room on the disk again: the batches in memory move there, and the next one tells what was discarded and why.
        disk.Free();
        await agent.WaitUntilAsync(() => agent.Stderr.Contains("takes batches again"), "word of the spool taking batches again");
        var ended = new Regex(@"\d+ batches holding \d+ drops discarded \(.*\); \d+ in all; the next batch tells the dashboard");
        await agent.WaitUntilAsync(() => ended.IsMatch(agent.Stderr), "word of what the discards cost");
        await agent.WaitUntilAsync(() => SpoolReads.Batches(disk.Directory).Any(b => b.BatchesDiscarded > 0 && b.SpoolProblem!.Contains("No space left on device")),
            "a spooled batch telling of the discards and the full disk");

        await using var app = await WebAppProcess.StartAsync(port, Settings);
        var host = await LiveApiReads.FirstHostAsync(app);
        await agent.WaitUntilAsync(() => SpoolReads.Batches(disk.Directory).Count == 0, "the spool emptying");
        agent.Terminate();
        Assert.Equal(ExitCodes.Discarded, await agent.WaitForExitAsync());
        var lost = Regex.Match(agent.Stderr, @"stopping having discarded (\d+) batches holding \d+ drops \((.*)\) in all");
        Assert.True(lost.Success, agent.Stderr);
        var lostHere = Regex.Match(lost.Groups[2].Value, $@"{Reason} (\d+)") is { Success: true } m ? long.Parse(m.Groups[1].Value) : 0;
        Assert.Equal(drops, await LiveApiReads.ReasonCountAsync(app, host, Reason) + lostHere);

        // The dashboard names the loss the agent told it of: on the host (and so its pages) and in /metrics.
        var discardedDrops = long.Parse(Regex.Match(agent.Stderr, @"stopping having discarded \d+ batches holding (\d+) drops").Groups[1].Value);
        var hostStatus = (await app.Http.GetFromJsonAsync<JsonElement>("api/hosts")).EnumerateArray().Single(h => h.GetProperty("hostId").GetString() == host);
        Assert.Equal(discardedDrops, hostStatus.GetProperty("discarded").GetProperty("drops").GetInt64());
        var metrics = await app.Http.GetStringAsync("metrics");
        Assert.Matches($@"dropboard_agent_discarded_drops_total\{{host=""[^""]+""\}} {discardedDrops}\b", metrics);
    }

    [Fact]
    public async Task An_agent_killed_outright_and_started_again_on_its_spool_loses_and_doubles_nothing_it_had_spooled()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var spool = Directory.CreateTempSubdirectory("dropboard-spool-").FullName;
        var port = WebAppProcess.FreePort();
        string[] run = ["run", "--server", $"http://127.0.0.1:{port}", "--token", Token, "--spool", spool, "--netns", ns.Name, "--source", "tracepoint"];
        using var first = AgentProcess.Start(run);
        await first.WaitUntilCapturingAsync();

        var before = ns.Snmp("Udp", "RcvbufErrors");
        UdpTraffic.OverflowReceiveBuffer(ns, 2500, port: 7213);
        var drops = ns.Snmp("Udp", "RcvbufErrors") - before;
        await first.WaitUntilAsync(() => SpoolReads.Batches(spool).Sum(b => b.RcvbufDrops) >= drops, $"{drops} drops in the spool");
        Assert.Equal(drops, SpoolReads.Batches(spool).Sum(b => b.RcvbufDrops));

        // The dashboard comes up and the agent starts sending; it is killed mid-way, between a batch taken and its file removed, or near.
        await using var app = await WebAppProcess.StartAsync(port, Settings);
        var spooled = Directory.GetFiles(spool, "*.json").Length;
        await first.WaitUntilAsync(() => Directory.GetFiles(spool, "*.json").Length < spooled, "the first batch acknowledged");
        first.Kill();

        using var second = AgentProcess.Start(run);
        await second.WaitUntilCapturingAsync();
        var host = await LiveApiReads.FirstHostAsync(app);
        await second.WaitUntilAsync(() => SpoolReads.Batches(spool).All(b => b.RcvbufDrops == 0), "the first agent's drops sent");
        Assert.Equal(drops, await LiveApiReads.WaitForReasonCountAsync(app, host, Reason, drops, TimeSpan.FromSeconds(30)));
        second.Terminate();
        Assert.Equal(0, await second.WaitForExitAsync());
        Assert.Equal(drops, await LiveApiReads.ReasonCountAsync(app, host, Reason));
        Assert.DoesNotContain("unreadable", second.Stderr);
        Assert.Empty(Directory.GetFiles(spool));
        Directory.Delete(spool, recursive: true);
    }

    [Fact]
    public async Task With_the_cable_to_the_dashboard_pulled_for_a_minute_the_agent_captures_on_and_delivers_every_drop_once()
    {
        using var agentHost = NetNamespace.Create("dba");
        using var dashboardHost = NetNamespace.Create("dbw");
        using var cable = VethLink.Create(agentHost, dashboardHost);
        using var _ = KernelTestLock.Acquire();
        // Off loopback the dashboard needs someone to sign in, and the test a viewer's token to read it.
        var database = WebAppProcess.NewDatabasePath();
        WebAppProcess.NewSecret(database, "users", "add", "ada", "--role", "admin");
        var viewer = WebAppProcess.NewSecret(database, "tokens", "add", "reader", "--role", "viewer");
        await using var app = await WebAppProcess.StartInAsync(dashboardHost, cable.RightAddress, 5080, [.. Settings, $"DropBoard:Database={database}"]);
        app.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", viewer);
        var spool = Directory.CreateTempSubdirectory("dropboard-spool-").FullName;
        using var agent = AgentProcess.StartIn(agentHost, "run", "--server", $"http://{cable.RightAddress}:5080", "--token", Token, "--spool", spool,
            "--source", "tracepoint");
        await agent.WaitUntilCapturingAsync();
        var host = await LiveApiReads.FirstHostAsync(app);

        var before = agentHost.Snmp("Udp", "RcvbufErrors");
        UdpTraffic.OverflowReceiveBuffer(agentHost, 1500, port: 7214);
        var dropsUp = agentHost.Snmp("Udp", "RcvbufErrors") - before;
        Assert.Equal(dropsUp, await LiveApiReads.WaitForReasonCountAsync(app, host, Reason, dropsUp, TimeSpan.FromSeconds(30)));

        cable.Unplug();
        var unplugged = DateTime.UtcNow;
        before = agentHost.Snmp("Udp", "RcvbufErrors");
        UdpTraffic.OverflowReceiveBuffer(agentHost, 2500, port: 7215);
        var dropsDown = agentHost.Snmp("Udp", "RcvbufErrors") - before;
        await agent.WaitUntilAsync(() => SpoolReads.Batches(spool).Sum(b => b.RcvbufDrops) >= dropsDown, $"{dropsDown} drops in the spool");
        await agent.WaitUntilAsync(() => agent.Stderr.Contains("server unreachable"), "word of the dashboard out of reach");
        await Task.Delay(unplugged.AddSeconds(60) - DateTime.UtcNow);
        Assert.Equal(dropsUp, await LiveApiReads.ReasonCountAsync(app, host, Reason));
        cable.PlugIn();

        Assert.Equal(dropsUp + dropsDown, await LiveApiReads.WaitForReasonCountAsync(app, host, Reason, dropsUp + dropsDown, TimeSpan.FromSeconds(90)));
        await agent.WaitUntilAsync(() => SpoolReads.Batches(spool).All(b => b.RcvbufDrops == 0), "the spooled drops sent");
        agent.Terminate();
        Assert.Equal(0, await agent.WaitForExitAsync());
        Assert.Equal(dropsUp + dropsDown, await LiveApiReads.ReasonCountAsync(app, host, Reason));
        Assert.Equal(dropsUp + dropsDown, await LiveApiReads.CounterSumAsync(app, host, "Udp.RcvbufErrors"));
        Directory.Delete(spool, recursive: true);
    }
}
