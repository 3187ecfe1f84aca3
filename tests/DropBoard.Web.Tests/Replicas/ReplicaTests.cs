using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using DropBoard.Web.Tests.Hub;
using DropBoard.Web.Tests.Live;
using DropBoard.Web.Tests.Metrics;
using DropBoard.Web.Tests.Sessions;
using static DropBoard.Web.Tests.Sessions.SessionApiReads;

namespace DropBoard.Web.Tests.Replicas;

/// <summary>
/// Two dashboard replicas on one database (an SQLite file, or a real PostgreSQL) and a real <c>redis-server</c> (<c>DropBoard:Redis</c>), all on loopback,
/// with a real agent streaming real kernel drops (a UDP flood into a tiny receive buffer in a network namespace). Each
/// replica's live API and the session show exactly the namespace's own RcvbufErrors rise, whichever replica the agent
/// speaks to, and after the replica it spoke to is killed.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class ReplicaTests
{
    private const string Token = "replica-token";
    private const string Reason = "SOCKET_RCVBUFF";

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task An_agent_on_replica_A_is_live_and_exact_on_replica_B_into_a_session_B_started_and_after_A_is_killed_it_fails_over_to_B_with_nothing_lost_or_doubled(string engine)
    {
        var database = await StoreEngines.NewDatabaseAsync(engine);
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        await using var redis = await RedisServer.StartAsync();
        string[] settings = [$"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false", $"DropBoard:Database={database}",
            $"DropBoard:Redis={redis.Configuration}"];
        await using var a = await WebAppProcess.StartAsync(settings);
        await using var b = await WebAppProcess.StartAsync(settings);
        // Between the agent and A: loses the answer taking one batch, as a crash of A right after storing it would.
        await using var relay = new AckLosingRelay(a.BaseAddress.Port);
        var session = await CreateAsync(b, "started on B");
        var spool = Directory.CreateTempSubdirectory("dropboard-spool-");
        using var agent = AgentProcess.Start("run", "--server", $"http://127.0.0.1:{relay.Port},{b.BaseAddress}", "--token", Token,
            "--spool", spool.FullName, "--netns", ns.Name, "--source", "tracepoint");
        await agent.WaitUntilCapturingAsync();
        var host = await LiveApiReads.FirstHostAsync(b);
        Assert.Contains($"connected to http://127.0.0.1:{relay.Port}/", agent.Stderr);

        // Drops the agent sends to A: live on both replicas, and recorded into B's session by A, each exactly once.
        var start = ns.Snmp("Udp", "RcvbufErrors");
        UdpTraffic.OverflowReceiveBuffer(ns, 600, port: 7401);
        var first = ns.Snmp("Udp", "RcvbufErrors") - start;
        Assert.Equal(first, await LiveApiReads.WaitForReasonCountAsync(b, host, Reason, first, TimeSpan.FromSeconds(30)));
        Assert.Equal(first, await LiveApiReads.WaitForReasonCountAsync(a, host, Reason, first, TimeSpan.FromSeconds(30)));
        Assert.Equal(first, await SessionDropsAsync(b, session, first));

        // A stores a batch whose answer never reaches the agent, and is killed: the agent sends it to B, which knows it
        // from the live bus and answers "duplicate"; what the agent captured meanwhile waits in its spool and goes to B.
        var sequence = await InFlightSequenceAsync(agent, spool);
        relay.LoseAckOf(sequence + 4);
        var flood = Task.Run(() =>
        {
            for (var burst = 0; burst < 10; burst++)
            {
                UdpTraffic.OverflowReceiveBuffer(ns, 200, port: 7402 + burst);
                Thread.Sleep(250);
            }
        });
        await agent.WaitUntilAsync(() => relay.Lost.Task.IsCompleted, $"A's answer taking batch {sequence + 4}");
        await a.DisposeAsync(); // SIGKILL
        await flood;
        var total = ns.Snmp("Udp", "RcvbufErrors") - start;

        Assert.Equal(total, await SessionDropsAsync(b, session, total));
        Assert.Equal(total, await LiveApiReads.WaitForReasonCountAsync(b, host, Reason, total, TimeSpan.FromSeconds(60)));
        await agent.WaitUntilAsync(() => SpoolReads.Batches(spool.FullName).Count == 0, "every batch acknowledged");
        Assert.Contains($"trying {b.BaseAddress}", agent.Stderr);
        Assert.True((await MetricsScrape.ReadAsync(b)).Sum("dropboard_batches_total", s => s["result"] == "duplicate") >= 1,
            "B answered the batch A had stored as a duplicate");
        // Nothing more arrives later: the counts stay exact.
        await Task.Delay(1500);
        Assert.Equal(total, await LiveApiReads.ReasonCountAsync(b, host, Reason));
        Assert.Equal(total, await SessionDropsAsync(b, session, total));
        Assert.Empty(spool.GetFiles("*.rejected"));
        agent.Terminate();
        await agent.WaitForExitAsync();
        spool.Delete(recursive: true);
    }

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task The_same_batches_sent_to_both_replicas_at_once_are_recorded_once_and_counted_once_live_on_each_and_an_agent_leaving_A_shows_on_B(string engine)
    {
        var database = await StoreEngines.NewDatabaseAsync(engine);
        await using var redis = await RedisServer.StartAsync();
        string[] settings = [$"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false", $"DropBoard:Database={database}",
            $"DropBoard:Redis={redis.Configuration}"];
        await using var a = await WebAppProcess.StartAsync(settings);
        await using var b = await WebAppProcess.StartAsync(settings);
        var session = await CreateAsync(b, "both replicas");
        var toA = await AgentHubClient.Connect(a, Token);
        await using var toB = await AgentHubClient.Connect(b, Token);
        var hello = AgentHubClient.Hello("twice-sent");

        var answers = new List<BatchAck>();
        for (var sequence = 1; sequence <= 40; sequence++)
        {
            var batch = AgentHubClient.Batch(hello.HostId, sequence, drops: sequence);
            await Task.WhenAll(AgentHubClient.SendUntilTakenAsync(toA, hello, batch, answers), AgentHubClient.SendUntilTakenAsync(toB, hello, batch, answers));
        }
        Assert.Equal(80, answers.Count(ack => ack.Rejection == BatchRejection.None));
        const long together = 40 * 41 / 2;
        Assert.Equal(together, await SessionDropsAsync(b, session, together));
        Assert.Equal(together, await LiveApiReads.WaitForReasonCountAsync(a, hello.HostId, Reason, together));
        Assert.Equal(together, await LiveApiReads.WaitForReasonCountAsync(b, hello.HostId, Reason, together));

        // Sent to A, then (once B shows it) to B, as an agent failing over resends what A never answered: B says "duplicate".
        var sent = together;
        for (var sequence = 41; sequence <= 45; sequence++)
        {
            var batch = AgentHubClient.Batch(hello.HostId, sequence, drops: sequence);
            await AgentHubClient.SendUntilTakenAsync(toA, hello, batch, answers);
            sent += sequence;
            Assert.Equal(sent, await LiveApiReads.WaitForReasonCountAsync(b, hello.HostId, Reason, sent));
            Assert.True((await AgentHubClient.SendUntilTakenAsync(toB, hello, batch, answers)).Duplicate, $"B answers batch {sequence}, taken by A, as a duplicate");
        }
        Assert.Equal(sent, await SessionDropsAsync(b, session, sent));
        await Task.Delay(1000);
        Assert.Equal(sent, await LiveApiReads.ReasonCountAsync(b, hello.HostId, Reason));
        Assert.Equal(sent, await LiveApiReads.ReasonCountAsync(a, hello.HostId, Reason));
        Assert.Equal(sent, await SessionDropsAsync(b, session, sent));

        await toA.DisposeAsync();

        // An agent connected to A only: B shows it connected from its batches, and disconnected once it leaves A.
        var only = AgentHubClient.Hello("only-on-a");
        var onA = await AgentHubClient.Connect(a, Token);
        await AgentHubClient.SendUntilTakenAsync(onA, only, AgentHubClient.Batch(only.HostId, 1, drops: 3), answers);
        Assert.Equal(3, await LiveApiReads.WaitForReasonCountAsync(b, only.HostId, Reason, 3));
        Assert.True(await ConnectedAsync(b, only.HostId, expected: true));
        await onA.DisposeAsync();
        Assert.True(await ConnectedAsync(a, only.HostId, expected: false));
        Assert.True(await ConnectedAsync(b, only.HostId, expected: false), "B shows the host disconnected once its connection to A ended");
    }

    [Fact]
    public async Task A_replica_started_while_Redis_is_away_serves_says_so_and_joins_the_live_bus_once_Redis_is_up()
    {
        var port = WebAppProcess.FreePort();
        string[] settings = [$"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false", $"DropBoard:Database={WebAppProcess.NewDatabasePath()}",
            $"DropBoard:Redis=127.0.0.1:{port}"];
        await using var a = await WebAppProcess.StartAsync(settings);
        await AgentHubClient.WaitForLogAsync(a, "Not connected to Redis at 127.0.0.1:");

        await using var redis = await RedisServer.StartAsync(port);
        await using var b = await WebAppProcess.StartAsync(settings);
        await using var toB = await AgentHubClient.Connect(b, Token);
        var hello = AgentHubClient.Hello("bus-came-late");
        var answers = new List<BatchAck>();
        // A batch a second to B until A shows one: A has reconnected and subscribed.
        long sequence = 0, sent = 0;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await LiveApiReads.ReasonCountAsync(a, hello.HostId, Reason) == 0 && DateTime.UtcNow < deadline)
        {
            await AgentHubClient.SendUntilTakenAsync(toB, hello, AgentHubClient.Batch(hello.HostId, ++sequence, drops: 1), answers);
            sent++;
            await Task.Delay(1000);
        }
        var before = await LiveApiReads.ReasonCountAsync(a, hello.HostId, Reason);
        Assert.InRange(before, 1, sent);

        await AgentHubClient.SendUntilTakenAsync(toB, hello, AgentHubClient.Batch(hello.HostId, ++sequence, drops: 100), answers);
        Assert.Equal(before + 100, await LiveApiReads.WaitForReasonCountAsync(a, hello.HostId, Reason, before + 100));
        Assert.Equal(sent + 100, await LiveApiReads.ReasonCountAsync(b, hello.HostId, Reason));
    }

    [Fact]
    public async Task A_sign_in_on_replica_A_opens_replica_B_on_another_machine_through_the_key_ring_in_Redis()
    {
        await using var redis = await RedisServer.StartAsync();
        var db = WebAppProcess.NewDatabasePath();
        var password = WebAppProcess.NewSecret(db, "users", "add", "rita", "--role", "viewer");
        string[] settings = [$"DropBoard:Database={db}", "DropBoard:RequireSignIn=true", "DropBoard:EmbeddedAgent=false"];
        // Each with a home of its own, as on separate machines: no key ring on disk to share.
        await using var a = await WebAppProcess.StartAsync(WebAppProcess.FreePort(), Home(), [.. settings, $"DropBoard:Redis={redis.Configuration}"]);
        await using var b = await WebAppProcess.StartAsync(WebAppProcess.FreePort(), Home(), [.. settings, $"DropBoard:Redis={redis.Configuration}"]);
        await using var alone = await WebAppProcess.StartAsync(WebAppProcess.FreePort(), Home(), settings);

        // One cookie jar for 127.0.0.1 (cookies ignore the port): the cookie A set goes to B and to the lone replica.
        using var browser = await Access.AccessTests.SignInAsync(a, "rita", password);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync(new Uri(b.BaseAddress, "api/sessions"))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync(new Uri(alone.BaseAddress, "api/sessions"))).StatusCode);
    }

    private static Dictionary<string, string> Home() => new() { ["HOME"] = Directory.CreateTempSubdirectory("dropboard-home-").FullName };

    [Fact]
    public async Task A_Redis_setting_that_is_no_configuration_string_stops_the_start_with_the_form_to_write()
    {
        var (code, output) = await WebAppProcess.RunUntilExitAsync("DropBoard:EmbeddedAgent=false", "DropBoard:Redis=,,,");
        Assert.Equal(2, code);
        Assert.Contains("DropBoard:Redis names no server", output);
    }

    /// <summary>Whether the replica lists the host as connected, once it says <paramref name="expected"/> or 10 s have passed.</summary>
    private static async Task<bool> ConnectedAsync(WebAppProcess app, string hostId, bool expected)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var hosts = await app.Http.GetFromJsonAsync<JsonElement>("api/hosts");
            var connected = hosts.EnumerateArray().Single(h => h.GetProperty("hostId").GetString() == hostId).GetProperty("connected").GetBoolean();
            if (connected == expected || DateTime.UtcNow > deadline) return connected == expected;
            await Task.Delay(100);
        }
    }

    /// <summary>The sequence of a batch the agent is sending now (in its spool until answered).</summary>
    private static async Task<long> InFlightSequenceAsync(AgentProcess agent, DirectoryInfo spool)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline)
        {
            if (SpoolReads.Batches(spool.FullName) is { Count: > 0 } batches) return batches.Max(s => s.Sequence);
            await Task.Delay(5);
        }
        throw new TimeoutException($"no batch in the agent's spool for 30 s:\n{agent.Stderr}");
    }

    /// <summary>The session's SOCKET_RCVBUFF drops, once they reach <paramref name="atLeast"/> or a minute has passed.</summary>
    private static async Task<long> SessionDropsAsync(WebAppProcess app, long session, long atLeast)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        long drops;
        while ((drops = (await SitesAsync(app, session)).Where(kv => kv.Key.EndsWith($" {Reason}", StringComparison.Ordinal)).Sum(kv => kv.Value)) < atLeast
               && DateTime.UtcNow < deadline)
            await Task.Delay(100);
        return drops;
    }
}
