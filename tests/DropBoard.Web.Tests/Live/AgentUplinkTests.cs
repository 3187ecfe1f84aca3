using System.Net.Http.Json;
using System.Runtime.Versioning;
using System.Text.Json;
using DropBoard.Agent.Uplink;
using DropBoard.TestKit;

namespace DropBoard.Web.Tests.Live;

/// <summary>
/// A real agent process streaming real kernel drops to the real web app over SignalR on loopback; the web
/// app is killed mid-stream and brought back. Drops made while it was away arrive once, none twice.
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
        await Task.Delay(TimeSpan.FromSeconds(2)); // a few batches' worth of retries against a closed port

        await using var second = await WebAppProcess.StartAsync(port, settings);
        var reported = await LiveApiReads.WaitForReasonCountAsync(second, host, "SOCKET_RCVBUFF", dropsB, TimeSpan.FromSeconds(40));
        await WaitUntilSpoolEmptyAsync(spool, agent);
        await Task.Delay(TimeSpan.FromSeconds(1));
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
            Assert.Equal(RunCommand.CredentialFileExitCode, await refused.WaitForExitAsync());
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
        directory.Delete(recursive: true);
    }

    private static async Task WaitUntilSpoolEmptyAsync(DirectoryInfo spool, AgentProcess agent)
    {
        for (var i = 0; i < 100 && spool.GetFiles("*.json").Length > 0; i++) await Task.Delay(100);
        Assert.True(spool.GetFiles("*.json").Length == 0, $"the spool never emptied:\n{agent.Stderr}");
    }
}
