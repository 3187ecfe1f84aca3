using DropBoard.TestKit;
using DropBoard.Web.Tests.Live;
using DropBoard.Web.Tests.Sessions;
using static DropBoard.Web.Tests.Sessions.SessionApiReads;

namespace DropBoard.Web.Tests.Faults;

/// <summary>
/// A real agent streams real kernel drops (a UDP flood into a tiny receive buffer in a network namespace) into a
/// recording session, and the dashboard is SIGKILLed in the middle of it, then started again on the same database.
/// Batches it committed but never acknowledged come again and are not recorded twice; batches it had not committed
/// come again and are recorded: the session's drops equal the namespace's own RcvbufErrors rise, exactly. On SQLite and
/// on PostgreSQL, whose connections the killed dashboard leaves behind.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class KilledDashboardTests
{
    private const string Token = "killed-dashboard-token";

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task A_dashboard_killed_mid_recording_and_restarted_on_its_database_records_every_kernel_drop_exactly_once(string engine)
    {
        var database = await StoreEngines.NewDatabaseAsync(engine);
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var port = WebAppProcess.FreePort();
        string[] settings = [$"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false", $"DropBoard:Database={database}"];
        var spool = Directory.CreateTempSubdirectory("dropboard-spool-");
        await using var first = await WebAppProcess.StartAsync(port, settings);
        var session = await CreateAsync(first, "killed mid-recording");
        using var agent = AgentProcess.Start("run", "--server", $"http://127.0.0.1:{port}", "--token", Token,
            "--spool", spool.FullName, "--netns", ns.Name, "--source", "tracepoint");
        await agent.WaitUntilCapturingAsync();
        await LiveApiReads.FirstHostAsync(first);

        // The flood runs in bursts for a few seconds; the dashboard is killed while batches of it are on their way.
        var before = ns.Snmp("Udp", "RcvbufErrors");
        var flood = Task.Run(() =>
        {
            for (var burst = 0; burst < 12; burst++)
            {
                UdpTraffic.OverflowReceiveBuffer(ns, 400, port: 7301 + burst);
                Thread.Sleep(250);
            }
        });
        await WaitForSessionDropsAsync(first, session, 1);
        await first.DisposeAsync(); // SIGKILL
        await flood;
        var drops = ns.Snmp("Udp", "RcvbufErrors") - before;

        await using var second = await WebAppProcess.StartAsync(port, settings);
        await WaitForSessionDropsAsync(second, session, drops);
        // Every batch answered: whatever is still to come would come from the spool.
        for (var i = 0; i < 600 && spool.GetFiles("*.json").Length > 0; i++) await Task.Delay(100);
        Assert.Empty(spool.GetFiles("*.json"));
        Assert.Empty(spool.GetFiles("*.rejected"));
        Assert.Contains("server unreachable", agent.Stderr);
        var sites = await SitesAsync(second, session);
        Assert.Equal(drops, sites.Where(kv => kv.Key.EndsWith(" SOCKET_RCVBUFF", StringComparison.Ordinal)).Sum(kv => kv.Value));
        agent.Terminate();
        await agent.WaitForExitAsync();
        spool.Delete(recursive: true);
    }

    private static async Task WaitForSessionDropsAsync(WebAppProcess app, long session, long atLeast)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await SitesAsync(app, session)).Where(kv => kv.Key.EndsWith(" SOCKET_RCVBUFF", StringComparison.Ordinal)).Sum(kv => kv.Value) < atLeast
               && DateTime.UtcNow < deadline)
            await Task.Delay(100);
    }
}
