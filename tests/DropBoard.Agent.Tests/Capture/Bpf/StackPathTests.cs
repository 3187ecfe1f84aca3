using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture.Bpf;
using DropBoard.Agent.Symbols;
using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Tests.Capture.Bpf;

/// <summary>
/// --stacks from real map bytes (Fixtures/bpf/stack-paths.txt): the path map's entries, the stack map's stacks and the
/// kallsyms they name, recorded from three floods in one namespace, with the namespace's own counters as the witness.
/// </summary>
public class StackPathTests
{
    private sealed record Recording(uint Netns, List<(PathKey Key, byte[] Values)> Paths, Dictionary<int, ulong[]> Stacks, Symbolizer Symbols,
        Dictionary<string, long> Snmp);

    private static readonly Recording Recorded = Read();

    private static Recording Read()
    {
        var lines = File.ReadLines(Fixture.Path("bpf", "stack-paths.txt")).Where(l => l.Length > 0 && l[0] != '#').ToList();
        string[] Fields(string kind) => [.. lines.Where(l => l.StartsWith(kind + " ", StringComparison.Ordinal)).Select(l => l[(kind.Length + 1)..])];
        var udp = Fields("snmp").Where(l => l.StartsWith("Udp:", StringComparison.Ordinal)).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToList();
        var snmp = udp[0].Skip(1).Zip(udp[1].Skip(1), (name, value) => ("Udp." + name, long.Parse(value))).ToDictionary();
        foreach (var six in Fields("snmp").Where(l => l.StartsWith("Udp6", StringComparison.Ordinal)).Select(l => l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries)))
            snmp[six[0]] = long.Parse(six[1]);
        return new Recording(
            uint.Parse(Fields("netns").Single()),
            [.. Fields("path").Select(l => l.Split(' ')).Select(f => (PathKey.Read(Convert.FromHexString(f[0])), Convert.FromHexString(string.Concat(f.Skip(1))))),],
            Fields("stack").Select(l => l.Split(' ')).ToDictionary(f => int.Parse(f[0]), f => KernelStack.Read(Convert.FromHexString(f[1]))),
            Symbolizer.FromText(string.Join('\n', Fields("kallsyms"))),
            snmp);
    }

    private const uint RcvBuff = 6, NoSocket = 3;

    [Fact]
    public void The_path_maps_counts_summed_over_CPUs_are_the_namespaces_own_counters()
    {
        var deltas = new DropMapDeltas(cpus: 2);

        var drops = Recorded.Paths.Select(p => (p.Key, Drops: deltas.UpdatePaths(p.Key, p.Values))).ToList();

        Assert.All(drops, d => Assert.Equal(Recorded.Netns, d.Key.Netns));
        Assert.Equal(Recorded.Snmp["Udp.RcvbufErrors"] + Recorded.Snmp["Udp6RcvbufErrors"], drops.Where(d => d.Key.Reason == RcvBuff).Sum(d => d.Drops));
        Assert.Equal(Recorded.Snmp["Udp.NoPorts"], drops.Where(d => d.Key.Reason == NoSocket).Sum(d => d.Drops));
        // Read again unchanged: nothing new; a CPU's count risen: only the rise.
        Assert.All(Recorded.Paths, p => Assert.Equal(0, deltas.UpdatePaths(p.Key, p.Values)));
        var risen = (byte[])Recorded.Paths[0].Values.Clone();
        risen[8] += 5;
        Assert.Equal(5, deltas.UpdatePaths(Recorded.Paths[0].Key, risen));
    }

    [Fact]
    public void Each_stack_runs_through_the_tracing_frames_to_its_drop_site_and_its_path_starts_there()
    {
        foreach (var (key, _) in Recorded.Paths)
        {
            var frames = Recorded.Stacks[key.StackId];
            var path = KernelStack.FromSite(frames, key.Location);

            Assert.InRange(frames.Length, 4, KernelStack.Depth);
            Assert.Equal(key.Location, path[0]);
            Assert.True(path.Length < frames.Length, "kfree_skb and the program are above the site, and cut");
        }
        Assert.Equal([1, 2], KernelStack.FromSite([1, 2], 7).ToArray()); // the site not among the frames: all are kept
    }

    [Fact]
    public void A_site_named_with_its_path_of_frames_and_the_drops_on_it_as_the_kernel_counted()
    {
        var sites = Flush(Recorded.Paths.Select(p => (p.Key, Sum(p.Values))));

        var ipv4 = sites.Single(s => s.Site == "udp_queue_rcv_one_skb+0x437");
        var path = Assert.Single(ipv4.Top);
        Assert.Equal((Recorded.Snmp["Udp.RcvbufErrors"], 0L, Recorded.Netns), (ipv4.Drops, ipv4.Other, ipv4.Netns));
        Assert.Equal((Recorded.Snmp["Udp.RcvbufErrors"], (string?)null), (path.Drops, path.Missing));
        Assert.Equal("udp_queue_rcv_one_skb+0x437", path.Frames[0]);
        Assert.Contains(path.Frames, f => f.StartsWith("udp_unicast_rcv_skb+0x", StringComparison.Ordinal));
        Assert.Contains(path.Frames, f => f.StartsWith("ip_protocol_deliver_rcu+0x", StringComparison.Ordinal));
        Assert.InRange(path.Frames.Count, 2, StackPath.MaxFrames);
        var ipv6 = sites.Single(s => s.Function == "udpv6_queue_rcv_one_skb");
        Assert.Contains(ipv6.Top[0].Frames, f => f.StartsWith("ip6_protocol_deliver_rcu+0x", StringComparison.Ordinal));
        Assert.Equal(Recorded.Snmp["Udp6RcvbufErrors"], ipv6.Drops);
        Assert.Equal(Recorded.Snmp["Udp.NoPorts"], sites.Single(s => s.Function == "__udp4_lib_rcv").Drops);
        Assert.Equal(sites.Select(s => s.Drops).OrderDescending(), sites.Select(s => s.Drops));
    }

    [Fact]
    public void Drops_without_a_stack_are_a_path_named_by_why_and_paths_past_the_top_are_counted_as_other()
    {
        var (key, values) = Recorded.Paths[0];
        var counts = new List<(PathKey, long)>
        {
            (key, 100),
            (key with { StackId = -17 }, 40), // another stack holds the bucket
            (key with { StackId = -12 }, 30), // the stack map is full
        };
        // Five more paths that differ from the recorded one only in their outermost frame.
        var frames = Recorded.Stacks[key.StackId];
        var extra = Enumerable.Range(1, 5).Select(i => (Id: 90_000 + i, Frames: (ulong[])[.. KernelStack.FromSite(frames, key.Location)[..3], frames[^1] + (ulong)i])).ToList();
        counts.AddRange(extra.Select((e, i) => (key with { StackId = e.Id }, 5L - i)));

        var site = Assert.Single(Flush(counts, extra.ToDictionary(e => e.Id, e => e.Frames)));

        Assert.Equal(100 + 40 + 30 + 5 + 4 + 3 + 2 + 1, site.Drops);
        Assert.Equal([100, 40, 30, 5, 4], site.Top.Select(p => p.Drops));
        Assert.Equal(site.Drops, site.Top.Sum(p => p.Drops) + site.Other);
        Assert.Equal(("EEXIST", "ENOMEM"), (site.Top[1].Missing, site.Top[2].Missing));
        Assert.Empty(site.Top[1].Frames);
        Assert.Equal(Sum(values), Flush([(key, Sum(values))]).Single().Drops);
    }

    [Fact]
    public void Stacks_that_differ_only_past_the_frames_kept_are_one_path()
    {
        var (key, _) = Recorded.Paths[0];
        var deep = Enumerable.Range(0, KernelStack.Depth).Select(i => i == 0 ? key.Location : Recorded.Stacks[key.StackId][^1]).ToArray();
        var deeper = (ulong[])deep.Clone();
        deeper[^1] += 0x10;

        var site = Assert.Single(Flush([(key with { StackId = 1 }, 3), (key with { StackId = 2 }, 4)], new() { [1] = deep, [2] = deeper }));

        var path = Assert.Single(site.Top);
        Assert.Equal((7L, StackPath.MaxFrames), (path.Drops, path.Frames.Count));
    }

    private static IReadOnlyList<PathSite> Flush(IEnumerable<(PathKey Key, long Drops)> counts, Dictionary<int, ulong[]>? stacks = null)
    {
        var table = new PathTable();
        foreach (var (key, drops) in counts)
            table.Add(key.Location, key.Netns, key.StackId, key.StackId < 0 ? null : (stacks ?? Recorded.Stacks).GetValueOrDefault(key.StackId) ?? Recorded.Stacks[key.StackId], drops);
        return new DropAggregator(Recorded.Symbols).Flush(table);
    }

    private static long Sum(byte[] perCpu) => (long)new DropMapDeltas(perCpu.Length / 8).Sum(perCpu);
}
