using System.Diagnostics;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture;
using DropBoard.Agent.Pipeline;
using DropBoard.Agent.Capture.Bpf;
using DropBoard.Agent.Capture.Tracepoint;
using DropBoard.Agent.Symbols;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// The eBPF source on the real kernel: its map keys every drop by network namespace, so each namespace's count is
/// held to that namespace's own /proc/net/snmp, with other namespaces dropping at the same time; and where it cannot
/// load, the agent says why and falls back.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class BpfSourceTests
{
    [Fact]
    public async Task Two_namespaces_flooded_at_once_each_count_exactly_their_own_RcvbufErrors()
    {
        using var first = NetNamespace.Create();
        using var second = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var (counts, lost) = await CaptureWhile(() => Task.WhenAll(
            Task.Run(() => UdpTraffic.OverflowReceiveBuffer(first, 3000, port: 7101)),
            Task.Run(() => UdpTraffic.OverflowReceiveBuffer(second, 2000, port: 7101))));

        Assert.Equal(0, lost);
        foreach (var ns in new[] { first, second })
        {
            var rcvbufErrors = ns.Snmp("Udp", "RcvbufErrors"); // a fresh namespace starts at 0
            Assert.True(rcvbufErrors > 1000, $"the flood should overflow {ns.Name}'s queue; RcvbufErrors is {rcvbufErrors}");
            Assert.Equal(rcvbufErrors, RcvbufDrops(counts, ns));
        }
    }

    [Fact]
    public async Task The_agent_holds_each_of_two_namespaces_flooded_at_once_to_its_own_counters_and_names_them()
    {
        Privileged.Require(File.Exists("/sys/kernel/btf/vmlinux"), "the kernel has no BTF (/sys/kernel/btf/vmlinux)");
        using var first = NetNamespace.Create();
        using var second = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        // No --netns: the agent reads its own namespace's counters, and every other namespace's as it drops
        // (these two from the start, as ip netns names them).
        using var agent = AgentProcess.Start("watch", "--source", "bpf", "--json", "--interval", "0.5");
        await agent.WaitUntilCapturingAsync();
        await Task.WhenAll(
            Task.Run(() => UdpTraffic.OverflowReceiveBuffer(first, 3000, port: 7103)),
            Task.Run(() => UdpTraffic.OverflowReceiveBuffer(second, 2000, port: 7103)));
        agent.Terminate();
        Assert.True(await agent.WaitForExitAsync() == 0, agent.Stderr);
        var summary = agent.Summary();

        foreach (var ns in new[] { first, second })
        {
            var rcvbufErrors = ns.Snmp("Udp", "RcvbufErrors");
            Assert.True(rcvbufErrors > 1000, $"the flood should overflow {ns.Name}'s queue; RcvbufErrors is {rcvbufErrors}");
            AssertHeldToItsOwnCounters(summary, ns.Inode, ns.Name, rcvbufErrors);
        }
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
    }

    /// <summary>
    /// The agent's summary gives namespace <paramref name="inode"/> (named <paramref name="name"/>) exactly its own
    /// RcvbufErrors rise as receive-buffer drops, reads that rise from its counters, and explains it exactly.
    /// </summary>
    internal static void AssertHeldToItsOwnCounters(System.Text.Json.JsonElement summary, uint inode, string name, long rcvbufErrors)
    {
        var drops = Entries(summary, "drops", inode).Where(d => d.GetProperty("reason").GetString() == "SOCKET_RCVBUFF").ToList();
        Assert.Equal(rcvbufErrors, drops.Sum(d => d.GetProperty("count").GetInt64()));
        Assert.All(drops, d => Assert.Equal(name, d.GetProperty("netnsName").GetString()));
        var counter = Entries(summary, "counters", inode).Single(c => c.GetProperty("name").GetString() == "Udp.RcvbufErrors");
        Assert.Equal((rcvbufErrors, name), (counter.GetProperty("delta").GetInt64(), counter.GetProperty("netnsName").GetString()));
        var attribution = Entries(summary, "attribution", inode).Single(a => a.GetProperty("counter").GetString() == "Udp.RcvbufErrors");
        Assert.Equal(("Exact", rcvbufErrors, rcvbufErrors, name),
            (attribution.GetProperty("match").GetString(), attribution.GetProperty("delta").GetInt64(), attribution.GetProperty("explained").GetInt64(),
                attribution.GetProperty("netnsName").GetString()));
    }

    [Fact]
    public async Task Two_million_drops_are_counted_with_none_lost()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        const int datagrams = 2_000_000;

        var (counts, lost) = await CaptureWhile(() => Task.Run(() => UdpTraffic.OverflowReceiveBuffer(ns, datagrams, port: 7102)));

        var rcvbufErrors = ns.Snmp("Udp", "RcvbufErrors");
        Assert.True(rcvbufErrors > datagrams * 9L / 10, $"most of the flood should overflow the queue; RcvbufErrors is {rcvbufErrors}");
        Assert.Equal(0, lost);
        Assert.Equal(rcvbufErrors, RcvbufDrops(counts, ns));
    }

    [Fact]
    public async Task Flows_sampled_within_their_cap_are_the_floods_five_tuple_and_with_those_not_sampled_make_every_drop_of_their_site()
    {
        Privileged.RequireRoot();
        Privileged.Require(File.Exists("/sys/kernel/btf/vmlinux"), "the kernel has no BTF (/sys/kernel/btf/vmlinux)");
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        const int cap = 50;
        var symbolizer = Symbolizer.LoadKallsyms();
        using var source = BpfSource.Open(flowsPerSecond: cap);
        var aggregator = new DropAggregator(symbolizer);
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        var capture = Task.Factory.StartNew(() => source.Run(aggregator, new SampleCap(0), stop.Token), TaskCreationOptions.LongRunning);
        await Task.Run(() => UdpTraffic.OverflowReceiveBuffer(ns, 200_000, port: 7105, sourcePort: 7104));
        stop.Cancel();
        await capture;
        var seconds = clock.Elapsed.TotalSeconds;

        Assert.Null(source.LastError);
        Assert.Equal(0, source.CorruptRecords);
        var inode = ns.Inode;
        var sites = aggregator.Flush(source.Flows!).Where(s => s.Netns == inode).ToList();
        var kernel = source.Counts.Totals.Where(c => c.Key.Netns == inode)
            .GroupBy(c => symbolizer.Resolve(c.Key.Location).ToString()).ToDictionary(g => g.Key, g => g.Sum(c => (long)c.Value));
        Assert.Equal(kernel, sites.ToDictionary(s => s.Site, s => s.Sampled + s.NotSampled));
        Assert.Equal(ns.Snmp("Udp", "RcvbufErrors"), RcvbufDrops(source.Counts.Totals, ns));
        var sampled = sites.Sum(s => s.Sampled);
        Assert.InRange(sampled, 1, cap * ((long)Math.Ceiling(seconds) + 1));
        Assert.True(sites.Sum(s => s.NotSampled) > 100_000, "most of the flood is over the cap");
        // Every record the kernel counted as sampled was read, and each is the flood's own flow on lo.
        Assert.Equal(sampled, sites.SelectMany(s => s.Top).Sum(f => f.Count));
        Assert.All(sites.SelectMany(s => s.Top), f => Assert.Equal(((byte)17, "127.0.0.1", (ushort)7104, "127.0.0.1", (ushort)7105, 1),
            (f.IpProtocol, f.Source, f.SourcePort, f.Destination, f.DestinationPort, f.Ifindex)));
    }

    [Fact]
    public async Task The_agent_says_per_site_how_many_drops_were_sampled_as_flows_and_how_many_not()
    {
        Privileged.Require(File.Exists("/sys/kernel/btf/vmlinux"), "the kernel has no BTF (/sys/kernel/btf/vmlinux)");
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        using var agent = AgentProcess.Start("watch", "--source", "bpf", "--json", "--interval", "0.5", "--flows", "20");
        await agent.WaitUntilCapturingAsync();
        UdpTraffic.OverflowReceiveBuffer(ns, 5000, port: 7107, sourcePort: 7106);
        agent.Terminate();
        Assert.True(await agent.WaitForExitAsync() == 0, agent.Stderr);

        var inode = ns.Inode;
        var lines = agent.StdoutLines.Where(l => l.StartsWith("{\"type\":\"flows\"", StringComparison.Ordinal))
            .Select(l => System.Text.Json.JsonDocument.Parse(l).RootElement).Where(l => l.TryGetProperty("netns", out var n) && n.GetUInt32() == inode).ToList();
        Assert.NotEmpty(lines);
        var summary = Entries(agent.Summary(), "flows", inode).ToList();
        var drops = Entries(agent.Summary(), "drops", inode).Sum(d => d.GetProperty("count").GetInt64());
        Assert.Equal(drops, summary.Sum(f => f.GetProperty("sampled").GetInt64() + f.GetProperty("notSampled").GetInt64()));
        Assert.Equal(summary.Sum(f => f.GetProperty("notSampled").GetInt64()), lines.Sum(f => f.GetProperty("notSampled").GetInt64()));
        Assert.True(summary.Sum(f => f.GetProperty("notSampled").GetInt64()) > 0, "5,000 drops in well under a few seconds are over a cap of 20 a second");
        var top = summary.SelectMany(f => f.GetProperty("top").EnumerateArray()).ToList();
        Assert.NotEmpty(top);
        Assert.All(top, f => Assert.Equal((7106, 7107, ns.Name), (f.GetProperty("sourcePort").GetInt32(), f.GetProperty("destinationPort").GetInt32(),
            summary[0].GetProperty("netnsName").GetString())));
    }

    [Fact]
    public void Without_CAP_BPF_the_agent_says_why_and_auto_falls_back()
    {
        Privileged.RequireRoot();
        Privileged.RequireCommand("setpriv", "util-linux");
        // Root without CAP_BPF and CAP_SYS_ADMIN: the kernel refuses the program, the perf tracepoint still opens.
        string[] withoutBpf = ["--bounding-set=-bpf,-sys_admin", "--inh-caps=-bpf,-sys_admin", "--", "dotnet",
            Path.Combine(AppContext.BaseDirectory, "dropboard-agent.dll"), "watch", "--json", "--seconds", "0.2"];

        var asked = Commands.TryRun("setpriv", [.. withoutBpf, "--source", "bpf"]);
        Assert.NotEqual(0, asked.ExitCode);
        Assert.Contains("cannot capture: the kernel refused the eBPF program (Operation not permitted", asked.Stderr);
        Assert.Contains("CAP_BPF", asked.Stderr);

        var auto = Commands.TryRun("setpriv", [.. withoutBpf, "--source", "auto"]);
        Assert.True(auto.ExitCode == 0, $"auto should fall back: {auto.Stderr}");
        Assert.Contains("eBPF is not available: the kernel refused the eBPF program (Operation not permitted", auto.Stderr);
        Assert.DoesNotContain("\"source\":\"bpf\"", auto.Stdout);
    }

    [Fact]
    public void An_object_the_kernel_cannot_take_is_refused_with_the_reason()
    {
        Privileged.RequireRoot();
        var e = Assert.Throws<CaptureUnavailableException>(() => BpfSource.Open("not an ELF object"u8.ToArray()));

        Assert.StartsWith("the eBPF object could not be opened", e.Message);
        Assert.Contains("build.sh", e.Fix);
    }

    /// <summary>Runs the bpf source (the library, as the agent does) while <paramref name="makeDrops"/> runs.</summary>
    private static async Task<(IReadOnlyDictionary<DropKey, ulong> Counts, long Lost)> CaptureWhile(Func<Task> makeDrops)
    {
        Privileged.RequireRoot();
        Privileged.Require(File.Exists("/sys/kernel/btf/vmlinux"), "the kernel has no BTF (/sys/kernel/btf/vmlinux)");
        using var source = BpfSource.Open();
        var aggregator = new DropAggregator(Symbolizer.LoadKallsyms());
        using var stop = new CancellationTokenSource();
        var capture = Task.Factory.StartNew(() => source.Run(aggregator, new SampleCap(0), stop.Token), TaskCreationOptions.LongRunning);
        await makeDrops();
        stop.Cancel();
        await capture;
        Assert.Null(source.LastError);
        return (source.Counts.Totals, source.LostRecords);
    }

    private static IEnumerable<System.Text.Json.JsonElement> Entries(System.Text.Json.JsonElement summary, string list, uint netns) =>
        summary.GetProperty(list).EnumerateArray().Where(e => e.TryGetProperty("netns", out var n) && n.GetUInt32() == netns);

    private static long RcvbufDrops(IReadOnlyDictionary<DropKey, ulong> counts, NetNamespace ns)
    {
        var netns = ns.Inode;
        var rcvbuf = (uint)Tracefs.ReadFormat(Tracefs.Locate(), "skb", "kfree_skb").ReasonNames.Single(r => r.Value == "SOCKET_RCVBUFF").Key;
        return counts.Where(c => c.Key.Netns == netns && c.Key.Reason == rcvbuf).Sum(c => (long)c.Value);
    }
}
