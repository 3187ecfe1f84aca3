using DropBoard.Agent.Tests.Kernel;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Publish;

/// <summary>README's <c>dotnet publish src/Agent -c Release -r linux-x64</c>, made once for the class.</summary>
public sealed class PublishedAgentFixture : IDisposable
{
    private readonly Lazy<PublishedAgent> _agent = new(PublishedAgent.Publish);

    /// <summary>Published on first use, so a test that skips (no root, no clang) costs no publish.</summary>
    public PublishedAgent Agent
    {
        get
        {
            // Native AOT links with clang against zlib; CI installs both (.ci/run).
            Privileged.RequireCommand("clang", "clang");
            Privileged.Require(File.Exists("/usr/include/zlib.h"), "zlib's headers are not installed (apt-get install zlib1g-dev)");
            return _agent.Value;
        }
    }

    public void Dispose()
    {
        if (_agent.IsValueCreated) _agent.Value.Dispose();
    }
}

/// <summary>
/// The agent as operators install it: one native file (Native AOT), published with no trim or AOT warning, run as
/// itself on real kernel drops in a network namespace (its count equal to the namespace's RcvbufErrors), and in run
/// mode streaming to a real dashboard over SignalR, whose JSON exists only through source generation in this build.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class PublishedAgentTests(PublishedAgentFixture published) : IClassFixture<PublishedAgentFixture>
{
    private const string Token = "published-agent-test-token";
    private static readonly string[] UdpQueueSites = ["__udp_enqueue_schedule_skb", "udp_queue_rcv_one_skb", "udp_queue_rcv_skb"];

    [Fact]
    public void Publishing_gives_one_native_executable_and_no_trim_or_AOT_warning()
    {
        var agent = published.Agent;

        Assert.Empty(agent.Warnings);
        Assert.Equal(["dropboard-agent"], agent.Files.Select(Path.GetFileName));
        var header = new byte[4];
        using (var file = File.OpenRead(agent.Executable)) file.ReadExactly(header);
        Assert.Equal("\u007fELF"u8.ToArray(), header);
    }

    [Fact]
    public async Task Watch_counts_every_drop_of_a_flood_as_the_namespace_does()
    {
        Privileged.RequireRoot();
        var executable = published.Agent.Executable;
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        using var agent = AgentProcess.StartExecutable(executable, "watch", "--source", "tracepoint", "--json", "--interval", "0.5", "--netns", ns.Name);
        await agent.WaitUntilCapturingAsync();

        var drops = OverflowReceiveBuffer(ns, 50_000, port: 7301);

        agent.Terminate();
        Assert.Equal(0, await agent.WaitForExitAsync());
        var summary = agent.Summary();
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        Assert.Equal(drops, summary.GetProperty("drops").EnumerateArray()
            .Where(d => d.GetProperty("reason").GetString() == "SOCKET_RCVBUFF" && UdpQueueSites.Contains(d.GetProperty("function").GetString()))
            .Sum(d => d.GetProperty("count").GetInt64()));
        Assert.Equal(drops, summary.GetProperty("counters").EnumerateArray()
            .Where(c => c.GetProperty("name").GetString() == "Udp.RcvbufErrors").Sum(c => c.GetProperty("delta").GetInt64()));
    }

    [Fact]
    public async Task Run_streams_its_batches_to_a_real_dashboard_over_SignalR()
    {
        Privileged.RequireRoot();
        var executable = published.Agent.Executable;
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        var spool = Directory.CreateTempSubdirectory("dropboard-spool-");
        using var agent = AgentProcess.StartExecutable(executable, "run", "--server", app.BaseAddress.ToString(), "--token", Token,
            "--spool", spool.FullName, "--netns", ns.Name, "--source", "tracepoint", "--session", "published agent");
        await agent.WaitUntilCapturingAsync();
        var host = await LiveApiReads.FirstHostAsync(app);

        var drops = OverflowReceiveBuffer(ns, 3000, port: 7302);

        Assert.Equal(drops, await LiveApiReads.WaitForReasonCountAsync(app, host, "SOCKET_RCVBUFF", drops, TimeSpan.FromSeconds(30)));
        Assert.Equal(drops, await LiveApiReads.WaitForCounterSumAsync(app, host, "Udp.RcvbufErrors", drops, TimeSpan.FromSeconds(30)));
        agent.Terminate();
        Assert.Equal(0, await agent.WaitForExitAsync());
        // The session API's JSON (request and answer) went through the agent's source-generated types too.
        Assert.Contains("recording into session", agent.Stderr);
        Assert.Contains("stopped", agent.Stderr);
        spool.Delete(recursive: true);
    }

    /// <summary>A flood into a tiny receive buffer; the namespace's RcvbufErrors rise, checked against sent minus read.</summary>
    private static long OverflowReceiveBuffer(NetNamespace ns, int datagrams, int port)
    {
        var before = ns.Snmp("Udp", "RcvbufErrors");
        var (sent, received) = UdpTraffic.OverflowReceiveBuffer(ns, datagrams, port);
        var drops = ns.Snmp("Udp", "RcvbufErrors") - before;
        Assert.Equal(sent - received, drops);
        return drops;
    }
}
