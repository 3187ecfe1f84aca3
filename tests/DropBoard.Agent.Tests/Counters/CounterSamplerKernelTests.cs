using DropBoard.Agent.Counters;
using DropBoard.Agent.Tests.Kernel;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Counters;

/// <summary>
/// The sampler reading a fresh network namespace while the test makes real drops in it: its deltas must be
/// the namespace's own counters, exactly as <c>ip netns exec NS cat /proc/net/...</c> shows them.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class CounterSamplerKernelTests
{
    private static readonly string[] NamespaceFiles = ["snmp", "netstat", "snmp6", "dev"];

    [Fact]
    public void Namespace_deltas_equal_the_kernels_counters_and_leave_the_agents_namespace_alone()
    {
        const int toClosedPort = 2000;
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        using var sampler = new CounterSampler(ns.Name);
        using var own = new CounterSampler();
        var before = ReadWithCat(ns);
        Assert.Empty(sampler.Sample(1000));
        own.Sample(1000);

        UdpTraffic.SendTo(ns, toClosedPort, port: 7101);
        var (sent, received) = UdpTraffic.OverflowReceiveBuffer(ns, datagrams: 3000, port: 7102);

        var deltas = sampler.Sample(2000).ToDictionary(d => d.Name, d => d.Delta);
        var ownDeltas = own.Sample(2000);
        var after = ReadWithCat(ns);

        Assert.Empty(sampler.Problems);
        Assert.Equal(toClosedPort, deltas["Udp.NoPorts"]);
        Assert.True(sent - received > 1000, $"the flood should overflow the queue: sent {sent}, received {received}");
        Assert.Equal(sent - received, deltas["Udp.RcvbufErrors"]);
        Assert.Equal(deltas["Udp.RcvbufErrors"], deltas["Udp.InErrors"]); // no checksum or memory errors here
        Assert.False(deltas.ContainsKey("Udp.InCsumErrors") || deltas.ContainsKey("Udp.MemErrors"));
        // The port-unreachable replies are the first ICMP this namespace ever sent: IcmpMsg.OutType3 was
        // absent from the file before, and its first appearance is still a delta.
        Assert.True(deltas.ContainsKey("IcmpMsg.OutType3"));
        Assert.Equal(KernelDiff(before, after), deltas.Where(d => !d.Key.StartsWith("Softnet.")).OrderBy(d => d.Key, StringComparer.Ordinal));

        // The agent's own namespace saw none of it (it may have its own traffic, never this many in a moment).
        var ownNoPorts = ownDeltas.Where(d => d.Name == "Udp.NoPorts").Sum(d => d.Delta);
        Assert.True(ownNoPorts < toClosedPort, $"the agent's namespace counted {ownNoPorts} NoPorts: it read the test namespace's counters");
    }

    [Fact]
    public void A_namespace_deleted_and_added_again_is_followed_and_its_counters_count_from_zero()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        using var sampler = new CounterSampler(ns.Name);
        UdpTraffic.SendTo(ns, 50, port: 7103);
        sampler.Sample(1000);

        Commands.Run("ip", "netns", "del", ns.Name);
        Commands.Run("ip", "netns", "add", ns.Name);
        ns.Exec("ip", "link", "set", "lo", "up");
        // More than before: judged by values alone (50 -> 80) this would look like +30.
        UdpTraffic.SendTo(ns, 80, port: 7103);
        var deltas = sampler.Sample(2000);

        Assert.Equal(80, Assert.Single(deltas, d => d.Name == "Udp.NoPorts").Delta);
        Assert.Contains(sampler.Problems, p => p.Contains($"'{ns.Name}' was recreated"));
        var kernel = ReadWithCat(ns);
        Assert.Equal(80UL, kernel.Values["Udp.NoPorts"]);
        Assert.Equal(kernel.Values.Where(v => v.Key.StartsWith("Udp.")).OrderBy(v => v.Key), sampler.Latest!.Values.Where(v => v.Key.StartsWith("Udp.")).OrderBy(v => v.Key));
    }

    private static CounterSnapshot ReadWithCat(NetNamespace ns)
    {
        var snapshot = new CounterSnapshot();
        ProcNetParsers.ParseHeaderValuePairs(ns.ReadProcNet("snmp"), "snmp", snapshot);
        ProcNetParsers.ParseHeaderValuePairs(ns.ReadProcNet("netstat"), "netstat", snapshot);
        ProcNetParsers.ParseSnmp6(ns.ReadProcNet("snmp6"), "snmp6", snapshot);
        ProcNetParsers.ParseDev(ns.ReadProcNet("dev"), "dev", snapshot);
        Assert.Empty(snapshot.Problems);
        return snapshot;
    }

    /// <summary>after - before for every counter that rose, absent before = 0, the plain way.</summary>
    private static IEnumerable<KeyValuePair<string, long>> KernelDiff(CounterSnapshot before, CounterSnapshot after) =>
        after.Values
            .Where(a => a.Key != "Tcp.CurrEstab")
            .Select(a => KeyValuePair.Create(a.Key, (long)(a.Value - before.Values.GetValueOrDefault(a.Key))))
            .Where(d => d.Value != 0)
            .OrderBy(d => d.Key, StringComparer.Ordinal);
}
