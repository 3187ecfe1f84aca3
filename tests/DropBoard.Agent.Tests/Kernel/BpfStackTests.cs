using System.Text.Json;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture.Bpf;
using DropBoard.Agent.Capture.Tracepoint;
using DropBoard.Agent.Pipeline;
using DropBoard.Agent.Symbols;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// --stacks on the real kernel: a site's drops split by kernel stack add up exactly to the site's drops, which are the
/// namespace's own Udp.RcvbufErrors, and the path the flood took is the UDP receive path; without --stacks the stack
/// and path maps stay one entry each and empty.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class BpfStackTests
{
    [Fact]
    public async Task A_floods_drops_split_by_stack_add_up_to_its_sites_drops_and_RcvbufErrors_and_the_top_path_is_the_receive_path()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var symbolizer = Symbolizer.LoadKallsyms();
        using var source = await CaptureWhile(symbolizer, stacks: true, () => UdpTraffic.OverflowReceiveBuffer(ns, 20_000, port: 7111));

        var inode = ns.Inode;
        var rcvbufErrors = ns.Snmp("Udp", "RcvbufErrors");
        Assert.True(rcvbufErrors > 10_000, $"the flood should overflow the queue; RcvbufErrors is {rcvbufErrors}");
        Assert.Equal(0, source.PathsLost);
        // Per site and reason, the path map's drops are the drop map's, exactly.
        var drops = source.Counts.Totals.Where(c => c.Key.Netns == inode).ToDictionary(c => (c.Key.Location, c.Key.Reason), c => (long)c.Value);
        var onPaths = source.Counts.PathTotals.Where(c => c.Key.Netns == inode).GroupBy(c => (c.Key.Location, c.Key.Reason))
            .ToDictionary(g => g.Key, g => g.Sum(c => (long)c.Value));
        Assert.Equal(drops.OrderBy(d => d.Key), onPaths.OrderBy(d => d.Key));
        var rcvbuf = RcvbufReason();
        Assert.Equal(rcvbufErrors, drops.Where(d => d.Key.Reason == rcvbuf).Sum(d => d.Value));

        var site = new DropAggregator(symbolizer).Flush(source.Paths!).Where(s => s.Netns == inode).MaxBy(s => s.Drops)!;
        Assert.Equal(rcvbufErrors, site.Drops);
        Assert.Equal(site.Drops, site.Top.Sum(p => p.Drops) + site.Other);
        var top = site.Top[0];
        Assert.Null(top.Missing);
        Assert.Equal(site.Site, top.Frames[0]);
        Assert.Contains(top.Frames, f => f.StartsWith("ip_protocol_deliver_rcu+", StringComparison.Ordinal) || f.StartsWith("__udp4_lib_rcv+", StringComparison.Ordinal));
        Assert.True(top.Drops > site.Drops * 9 / 10, $"the flood's drops take one path: {top.Drops} of {site.Drops}");
        Assert.Equal((4096u, false), source.MapState("stacks"));
    }

    [Fact]
    public async Task Without_stacks_the_stack_and_path_maps_are_one_entry_each_and_stay_empty()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        using var source = await CaptureWhile(Symbolizer.LoadKallsyms(), stacks: false, () => UdpTraffic.OverflowReceiveBuffer(ns, 2000, port: 7112));

        var rcvbufErrors = ns.Snmp("Udp", "RcvbufErrors");
        Assert.True(rcvbufErrors > 1000, $"the flood should overflow the queue; RcvbufErrors is {rcvbufErrors}");
        var rcvbuf = RcvbufReason();
        Assert.Equal(rcvbufErrors, source.Counts.Totals.Where(c => c.Key.Netns == ns.Inode && c.Key.Reason == rcvbuf).Sum(c => (long)c.Value));
        Assert.Null(source.Paths);
        Assert.Empty(source.Counts.PathTotals);
        Assert.Equal((1u, true), source.MapState("paths"));
        Assert.Equal((1u, true), source.MapState("stacks"));
    }

    [Fact]
    public async Task The_agent_prints_each_sites_top_path_and_its_summary_paths_add_up_to_the_sites_drops()
    {
        Privileged.Require(File.Exists("/sys/kernel/btf/vmlinux"), "the kernel has no BTF (/sys/kernel/btf/vmlinux)");
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        using var agent = AgentProcess.Start("watch", "--source", "bpf", "--stacks", "--json", "--interval", "0.5");
        await agent.WaitUntilCapturingAsync();
        UdpTraffic.OverflowReceiveBuffer(ns, 5000, port: 7113);
        agent.Terminate();
        Assert.True(await agent.WaitForExitAsync() == 0, agent.Stderr);

        Assert.Contains("counting the kernel stacks to each site (--stacks)", agent.Stderr);
        var inode = ns.Inode;
        var rcvbufErrors = ns.Snmp("Udp", "RcvbufErrors");
        var summary = agent.Summary();
        var site = Entries(summary, "paths", inode).Single();
        Assert.Equal(rcvbufErrors, site.GetProperty("drops").GetInt64());
        Assert.Equal(rcvbufErrors, Entries(summary, "drops", inode).Sum(d => d.GetProperty("count").GetInt64()));
        var top = site.GetProperty("top").EnumerateArray().ToList();
        Assert.Equal(rcvbufErrors, top.Sum(p => p.GetProperty("drops").GetInt64()) + site.GetProperty("other").GetInt64());
        Assert.Equal(site.GetProperty("site").GetString(), top[0].GetProperty("frames")[0].GetString());
        var lines = agent.StdoutLines.Where(l => l.StartsWith("{\"type\":\"paths\"", StringComparison.Ordinal))
            .Select(l => JsonDocument.Parse(l).RootElement).Where(l => l.TryGetProperty("netns", out var n) && n.GetUInt32() == inode).ToList();
        Assert.NotEmpty(lines);
        Assert.All(lines, l => Assert.Single(l.GetProperty("top").EnumerateArray().ToList()));
        Assert.Equal(rcvbufErrors, lines.Sum(l => l.GetProperty("drops").GetInt64()));
    }

    [Fact]
    public void Stacks_with_a_source_that_has_none_is_refused_with_the_reason()
    {
        var refused = Commands.TryRun("dotnet", Path.Combine(AppContext.BaseDirectory, "dropboard-agent.dll"), "watch", "--source", "netdm", "--stacks", "--seconds", "0.1");

        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("--stacks needs --source bpf (or auto, which uses it where the kernel has BTF): netdm has no kernel stacks", refused.Stderr);
    }

    [Fact]
    public void Stacks_when_auto_cannot_load_the_bpf_source_are_said_to_be_missing_on_the_start_line()
    {
        Privileged.RequireRoot();
        Privileged.RequireCommand("setpriv", "util-linux");
        // Root without CAP_BPF and CAP_SYS_ADMIN: the kernel refuses the program, auto falls back to a source without stacks.
        var auto = Commands.TryRun("setpriv", "--bounding-set=-bpf,-sys_admin", "--inh-caps=-bpf,-sys_admin", "--", "dotnet",
            Path.Combine(AppContext.BaseDirectory, "dropboard-agent.dll"), "watch", "--json", "--seconds", "0.2", "--source", "auto", "--stacks");

        Assert.True(auto.ExitCode == 0, $"auto should fall back: {auto.Stderr}");
        Assert.Contains("no drop paths: --stacks needs the bpf source", auto.Stderr);
        Assert.DoesNotContain("\"type\":\"paths\"", auto.Stdout);
    }

    private static async Task<BpfSource> CaptureWhile(Symbolizer symbolizer, bool stacks, Action makeDrops)
    {
        Privileged.RequireRoot();
        Privileged.Require(File.Exists("/sys/kernel/btf/vmlinux"), "the kernel has no BTF (/sys/kernel/btf/vmlinux)");
        var source = BpfSource.Open(stacks: stacks);
        var aggregator = new DropAggregator(symbolizer);
        using var stop = new CancellationTokenSource();
        var capture = Task.Factory.StartNew(() => source.Run(aggregator, new SampleCap(0), stop.Token), TaskCreationOptions.LongRunning);
        await Task.Run(makeDrops);
        stop.Cancel();
        await capture;
        Assert.Null(source.LastError);
        return source;
    }

    private static uint RcvbufReason() =>
        (uint)Tracefs.ReadFormat(Tracefs.Locate(), "skb", "kfree_skb").ReasonNames.Single(r => r.Value == "SOCKET_RCVBUFF").Key;

    private static IEnumerable<JsonElement> Entries(JsonElement summary, string list, uint netns) =>
        summary.GetProperty(list).EnumerateArray().Where(e => e.TryGetProperty("netns", out var n) && n.GetUInt32() == netns);
}
