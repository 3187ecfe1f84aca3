using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using DropBoard.TestKit;
using static DropBoard.Agent.Tests.Counters.CounterFamiliesKernelTests;
using static DropBoard.Agent.Tests.Kernel.WatchAgainstKernelCountersTests;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// Proof by experiment, family by family beyond UDP and TCP: drops made for real in a namespace while the agent runs,
/// and the attribution row of each counter they move must hold the namespace's own rise, credited to the test's own
/// site and reason. Capture is machine-wide: only the test's own sites are summed; a row is Exact when no other
/// host drop matched it.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class AttributionByFamilyTests
{
    // __dev_xmit_skb (inlined into __dev_queue_xmit) frees a qdisc's to_free list.
    private static readonly string[] QdiscSites = ["__dev_queue_xmit", "__dev_xmit_skb", "dev_qdisc_enqueue"];
    // nf_hook_slow frees on an NF_DROP verdict; on 6.18 nft_do_chain may free it itself.
    private static readonly string[] NetfilterSites = ["nf_hook_slow", "nft_do_chain"];

    [Fact]
    public async Task A_tbf_drop_is_credited_to_its_qdisc_and_explains_Ip_OutDiscards_and_Udp_SndbufErrors()
    {
        Privileged.RequireCommand("tc", "iproute2");
        using var ns = NetNamespace.Create();
        var (va, _) = Veth(ns);
        ns.Exec("tc", "qdisc", "add", "dev", va, "root", "tbf", "rate", "8kbit", "burst", "1600", "limit", "3000");
        using var _ = KernelTestLock.Acquire();
        var (discardsBefore, sndbufBefore, tcBefore) = (ns.Snmp("Ip", "OutDiscards"), ns.Snmp("Udp", "SndbufErrors"), TcDropped(ns, va));

        // The sending thread's own call enqueues and drops: over when it returns.
        var (summary, _) = await WatchWhile(ns, () => { SendUdp(ns, "10.9.0.2", 7501, 300); return 0; }, done: null);

        var (handle, tcAfter) = (TcHandle(ns, va), TcDropped(ns, va));
        var dropped = tcAfter - tcBefore;
        Assert.True(dropped > 200, $"the tbf should drop most of a 300-datagram burst; tc says {dropped}");
        AssertCredited(summary, $"Qdisc.{va}.{handle}.dropped", dropped, "QDISC_DROP", QdiscSites);
        // ip_send_skb counts the NET_XMIT_DROP as Ip.OutDiscards, udp_send_skb the -ENOBUFS as Udp.SndbufErrors:
        // the original complaint showed both as unexplained beside the QDISC_DROP drops that explain them.
        Assert.Equal(dropped, ns.Snmp("Ip", "OutDiscards") - discardsBefore);
        Assert.Equal(dropped, ns.Snmp("Udp", "SndbufErrors") - sndbufBefore);
        AssertCredited(summary, "Ip.OutDiscards", dropped, "QDISC_DROP", QdiscSites);
        AssertCredited(summary, "Udp.SndbufErrors", dropped, "QDISC_DROP", QdiscSites);
    }

    [Theory]
    [InlineData("nft")]
    [InlineData("iptables-nft")]
    public async Task A_firewall_drop_rule_is_credited_with_its_own_drops(string tool)
    {
        Privileged.RequireCommand(tool, tool == "nft" ? "nftables" : "iptables");
        using var ns = NetNamespace.Create();
        if (tool == "nft")
            ns.Exec("nft", "add table inet dbt; add chain inet dbt input { type filter hook input priority 0; }; add rule inet dbt input udp dport 7511 counter drop");
        else
            ns.Exec("iptables-nft", "-A", "INPUT", "-p", "udp", "--dport", "7511", "-j", "DROP");
        using var _ = KernelTestLock.Acquire();
        const int datagrams = 271;

        var (summary, _) = await WatchWhile(ns, () => { SendUdp(ns, "127.0.0.1", 7511, datagrams); return 0; }, done: null);

        var rule = Assert.Single(NftRules(ns));
        Assert.Equal(datagrams, rule.Packets);
        var counter = tool == "nft" ? $"Netfilter.inet.dbt.input.{rule.Handle}" : $"Netfilter.ip.filter.INPUT.{rule.Handle}";
        AssertCredited(summary, counter, rule.Packets, "NETFILTER_DROP", NetfilterSites);
        Assert.DoesNotContain(Rows(summary), r => r.GetProperty("counter").GetString()!.StartsWith("Udp.", StringComparison.Ordinal));
    }

    private static IEnumerable<JsonElement> Rows(JsonElement summary) => summary.GetProperty("attribution").EnumerateArray();

    /// <summary>
    /// The row of <paramref name="counter"/> has the kernel's rise, and the test's drops for <paramref name="reason"/> at
    /// its own functions (compiler suffixes such as <c>.constprop.0</c> aside) account for all of it.
    /// </summary>
    private static void AssertCredited(JsonElement summary, string counter, long rise, string reason, string[] functions)
    {
        var row = Rows(summary).SingleOrDefault(a => a.GetProperty("counter").GetString() == counter);
        Assert.True(row.ValueKind == JsonValueKind.Object, $"no attribution row {counter}; rows: {string.Join(", ", Rows(summary).Select(r => r.GetProperty("counter").GetString()))}");
        var sites = row.GetProperty("sites").EnumerateArray()
            .Select(s => (Function: s.GetProperty("function").GetString()!.Split('.')[0], Reason: s.GetProperty("reason").GetString(), Count: s.GetProperty("count").GetInt64()))
            .ToList();
        var own = sites.Where(s => s.Reason == reason && functions.Contains(s.Function)).Sum(s => s.Count);
        Assert.True((rise, rise) == (row.GetProperty("delta").GetInt64(), own), $"{counter}: kernel +{rise}; row {row}");
        if (own == sites.Sum(s => s.Count))
            Assert.Equal(("Exact", rise), (row.GetProperty("match").GetString(), row.GetProperty("explained").GetInt64()));
        TestContext.Current.TestOutputHelper?.WriteLine($"{counter}: kernel +{rise}, agent row +{row.GetProperty("delta").GetInt64()}, {reason} credited {own}, {row.GetProperty("match").GetString()}");
    }

    private static JsonElement Qdisc(NetNamespace ns, string device) =>
        JsonDocument.Parse(ns.Exec("tc", "-s", "-j", "qdisc", "show", "dev", device)).RootElement.EnumerateArray()
            .Single(q => q.GetProperty("root").ValueKind == JsonValueKind.True);

    private static long TcDropped(NetNamespace ns, string device) => Qdisc(ns, device).GetProperty("drops").GetInt64();

    private static string TcHandle(NetNamespace ns, string device) => Qdisc(ns, device).GetProperty("handle").GetString()!;
}
