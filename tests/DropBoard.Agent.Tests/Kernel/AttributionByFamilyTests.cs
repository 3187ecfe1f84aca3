using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using DropBoard.Shared.Analysis;
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
        var (summary, _) = await WatchWhile(ns, () => { UdpTraffic.SendTo(ns, new IPEndPoint(IPAddress.Parse("10.9.0.2"), 7501), 300); return 0; }, done: null);

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

    /// <summary>
    /// TCP and UDP through one tbf: the qdisc counts every drop, ip_send_skb only the datagrams' (tcp_transmit_skb
    /// takes its NET_XMIT_DROP as congestion and counts nothing), so Ip.OutDiscards and Udp.SndbufErrors rise by the
    /// UDP drops alone, fewer than the QDISC_DROP drops: AtMost, never Over. The qdisc's own counter stays Exact.
    /// </summary>
    [Fact]
    public async Task Tcp_beside_udp_at_one_qdisc_reads_at_most_for_the_udp_counters_and_exact_for_the_qdisc()
    {
        Privileged.RequireCommand("tc", "iproute2");
        using var host = NetNamespace.Create();
        using var peer = NetNamespace.Create();
        using var link = VethLink.Create(host, peer);
        var device = link.LeftEnd;
        // 1 KB/s: the handshake passes on the bucket's burst, the datagrams fill the queue, TCP's segments find it full.
        host.Exec("tc", "qdisc", "add", "dev", device, "root", "tbf", "rate", "8kbit", "burst", "1600", "limit", "3000");
        using var _ = KernelTestLock.Acquire();
        var (discardsBefore, sndbufBefore, tcBefore) = (host.Snmp("Ip", "OutDiscards"), host.Snmp("Udp", "SndbufErrors"), TcDropped(host, device));

        var (summary, _) = await WatchWhile(host, () =>
        {
            var sent = TcpTraffic.Bulk(host, peer, new IPEndPoint(IPAddress.Parse(link.RightAddress), 7531), TimeSpan.FromSeconds(2),
                connected: () => UdpTraffic.SendTo(host, new IPEndPoint(IPAddress.Parse(link.RightAddress), 7532), 300));
            // The connection's last packets (its reset, answers to the peer's FIN) meet the full queue just after: the
            // watch ends once the qdisc has stopped dropping, not in the middle of those drops.
            QdiscQuiet(host, device);
            return sent;
        }, done: null);

        var dropped = TcDropped(host, device) - tcBefore;
        var udpDropped = host.Snmp("Udp", "SndbufErrors") - sndbufBefore;
        Assert.Equal(udpDropped, host.Snmp("Ip", "OutDiscards") - discardsBefore);
        Assert.True(udpDropped > 200 && dropped > udpDropped, $"the tbf should drop most of 300 datagrams and some TCP segments; tc says {dropped}, UDP {udpDropped}");
        var qdiscRow = $"Qdisc.{device}.{TcHandle(host, device)}.dropped";
        // The qdisc's own row is proven exact by the UDP-only test above; with TCP beside it, a GSO segment dropped inside
        // tbf's own segmentation (tbf_enqueue, freed NOT_SPECIFIED on 6.18) is counted by the qdisc but not as QDISC_DROP,
        // so here the row has the kernel's rise, its QDISC_DROP drops explain no more than that, and it never reads Over.
        var qdisc = Rows(summary).Single(r => r.GetProperty("counter").GetString() == qdiscRow);
        Assert.Equal(dropped, qdisc.GetProperty("delta").GetInt64());
        Assert.InRange(qdisc.GetProperty("explained").GetInt64(), 1, dropped);
        Assert.NotEqual("Over", qdisc.GetProperty("match").GetString());
        // The IPv4 ones (an ARP packet may be dropped too: the qdisc counts it, the IP counters' table rows do not take it).
        var ipv4Dropped = OwnQdiscDrops(Rows(summary).Single(r => r.GetProperty("counter").GetString() == qdiscRow), ipv4Only: true);
        Assert.True(ipv4Dropped > udpDropped, $"TCP segments should have been dropped beside the datagrams: {ipv4Dropped} IPv4 qdisc drops, UDP {udpDropped}");
        foreach (var counter in new[] { "Ip.OutDiscards", "Udp.SndbufErrors" })
        {
            var row = Rows(summary).Single(r => r.GetProperty("counter").GetString() == counter);
            Assert.True((udpDropped, ipv4Dropped, "AtMost") == (row.GetProperty("delta").GetInt64(), OwnQdiscDrops(row, ipv4Only: false), row.GetProperty("match").GetString()),
                $"{counter}: kernel +{udpDropped} of {ipv4Dropped} IPv4 qdisc drops; row {row}");
            TestContext.Current.TestOutputHelper?.WriteLine($"{counter}: kernel +{udpDropped}, {ipv4Dropped} IPv4 qdisc drops (TCP {ipv4Dropped - udpDropped}), row {row.GetProperty("match").GetString()}");
        }
    }

    /// <summary>
    /// The test's QDISC_DROP drops in an attribution row: those at its own sites (capture is machine-wide; another host
    /// qdisc drop would only add to them), of IPv4 (EtherType 0x0800) alone when asked.
    /// </summary>
    private static long OwnQdiscDrops(JsonElement row, bool ipv4Only)
    {
        return row.GetProperty("sites").EnumerateArray()
            .Where(s => s.GetProperty("reason").GetString() == "QDISC_DROP" && QdiscSites.Contains(s.GetProperty("function").GetString()!.Split('.')[0])
                        && (!ipv4Only || s.GetProperty("protocol").GetInt32() == 0x0800))
            .Sum(s => s.GetProperty("count").GetInt64());
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

        var (summary, _) = await WatchWhile(ns, () => { UdpTraffic.SendTo(ns, new IPEndPoint(IPAddress.Loopback, 7511), datagrams); return 0; }, done: null);

        var rule = Assert.Single(NftRules(ns));
        Assert.Equal(datagrams, rule.Packets);
        var counter = tool == "nft" ? $"Netfilter.inet.dbt.input.{rule.Handle}" : $"Netfilter.ip.filter.INPUT.{rule.Handle}";
        AssertCredited(summary, counter, rule.Packets, "NETFILTER_DROP", NetfilterSites);
        Assert.DoesNotContain(Rows(summary), r => r.GetProperty("counter").GetString()!.StartsWith("Udp.", StringComparison.Ordinal));
    }

    /// <summary>
    /// A host (left) sends through a router (right) to 10.77.0.1, which the router cannot or may not reach: with
    /// forwarding off it is not the router's to take (Ip.InAddrErrors); with forwarding on but no route, no network
    /// (IpExt.InNoRoutes); with a route back out and TTL 1, the hop limit (Ip.InHdrErrors, as ip_forward counts it).
    /// </summary>
    [Theory]
    [InlineData("off", 64, "snmp", "Ip", "InAddrErrors", "IP_INADDRERRORS", "ip_error")]
    [InlineData("no route", 64, "netstat", "IpExt", "InNoRoutes", "IP_INNOROUTES", "ip_error")]
    [InlineData("ttl", 1, "snmp", "Ip", "InHdrErrors", "IP_INHDR", "ip_forward")]
    public async Task A_router_refusing_to_forward_is_credited_with_its_own_counter(string router, short ttl, string file, string group, string name, string reason, string function)
    {
        using var host = NetNamespace.Create();
        using var routerNs = NetNamespace.Create();
        using var link = VethLink.Create(host, routerNs);
        host.Exec("ip", "route", "add", "10.77.0.0/24", "via", link.RightAddress);
        if (router != "off") routerNs.Exec("sysctl", "-q", "-w", "net.ipv4.ip_forward=1");
        if (router == "ttl") routerNs.Exec("ip", "route", "add", "10.77.0.0/24", "via", link.LeftAddress);
        using var _ = KernelTestLock.Acquire();
        const int datagrams = 83;
        var before = routerNs.Counter(file, group, name);

        // Dropped in the router's softirq, possibly after the send returned: wait for its counter.
        var (summary, _) = await WatchWhile(routerNs, () => { UdpTraffic.SendTo(host, new IPEndPoint(IPAddress.Parse("10.77.0.1"), 7601), datagrams, ttl); return 0; },
            () => routerNs.Counter(file, group, name) - before >= datagrams);

        var rise = routerNs.Counter(file, group, name) - before;
        Assert.Equal(datagrams, rise);
        AssertCredited(summary, $"{group}.{name}", rise, reason, [function]);
    }

    /// <summary>
    /// An established TCP connection whose route is deleted: each segment it sends after (the data, its
    /// retransmissions, the reset of the abort) finds no route in __ip_queue_xmit and is dropped there, counted once
    /// as Ip.OutNoRoutes. (A UDP send without a route fails in udp_sendmsg before any packet exists: the counter
    /// rises with no drop to see.)
    /// </summary>
    [Fact]
    public async Task Segments_of_a_connection_whose_route_is_gone_are_credited_to_Ip_OutNoRoutes()
    {
        using var host = NetNamespace.Create();
        using var peer = NetNamespace.Create();
        using var link = VethLink.Create(host, peer);
        using var listener = peer.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Parse(link.RightAddress), 7611));
        listener.Listen();
        using var client = host.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(new IPEndPoint(IPAddress.Parse(link.RightAddress), 7611));
        using var _ = KernelTestLock.Acquire();
        var before = host.Snmp("Ip", "OutNoRoutes");

        var (summary, _) = await WatchWhile(host, () =>
        {
            host.Exec("ip", "route", "del", "10.99.0.0/30");
            for (var i = 0; i < 5; i++) client.Send(new byte[100]);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (host.Snmp("Ip", "OutNoRoutes") - before < 3 && clock.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(50);
            // Aborted while the agent watches: no retransmission is left to drop after it stopped.
            client.LingerState = new LingerOption(true, 0);
            client.Close();
            return 0;
        }, done: null);
        var rise = host.Snmp("Ip", "OutNoRoutes") - before;
        Assert.True(rise >= 3, $"Ip.OutNoRoutes rose by {rise}");
        AssertCredited(summary, "Ip.OutNoRoutes", rise, "IP_OUTNOROUTES", ["__ip_queue_xmit"]);
    }

    /// <summary>
    /// IPv4 frames with a broken header, sent through a packet socket from one end of a veth to the address of the
    /// other: ip_rcv_core refuses a wrong header checksum (IP_CSUM, counted as IpExt.InCsumErrors and Ip.InHdrErrors)
    /// and a header length under 5 words (IP_INHDR, Ip.InHdrErrors).
    /// </summary>
    [Theory]
    [InlineData("checksum", "IP_CSUM", new[] { "Ip.InHdrErrors", "IpExt.InCsumErrors" })]
    [InlineData("ihl", "IP_INHDR", new[] { "Ip.InHdrErrors" })]
    public async Task A_broken_IPv4_header_is_credited_to_the_header_counters(string broken, string reason, string[] counters)
    {
        Privileged.RequireCommand("python3", "python3");
        using var ns = NetNamespace.Create();
        var (va, vb) = Veth(ns);
        ns.Exec("ip", "addr", "add", "10.9.1.2/24", "dev", vb);
        using var _ = KernelTestLock.Acquire();
        const int frames = 37;
        var before = counters.ToDictionary(c => c, c => Kernel(ns, c));

        // veth hands the frames to vb's backlog: received in a softirq after the send returned.
        var (summary, _) = await WatchWhile(ns, () => ns.Exec("python3", "-c", BrokenHeaderFrames(va, vb, frames, broken)),
            () => Kernel(ns, "Ip.InHdrErrors") - before["Ip.InHdrErrors"] >= frames);

        foreach (var counter in counters)
        {
            var rise = Kernel(ns, counter) - before[counter];
            Assert.Equal(frames, rise);
            AssertCredited(summary, counter, rise, reason, ["ip_rcv_core", "ip_rcv", "ip_list_rcv"]);
        }
    }

    /// <summary>A counter named as DropBoard names it (Ip.InHdrErrors from snmp, IpExt.InCsumErrors from netstat).</summary>
    private static long Kernel(NetNamespace ns, string counter)
    {
        var (group, name) = (counter.Split('.')[0], counter.Split('.')[1]);
        return ns.Counter(group.EndsWith("Ext", StringComparison.Ordinal) ? "netstat" : "snmp", group, name);
    }

    /// <summary>UDP-in-IPv4 frames from 10.9.1.1 to 10.9.1.2 with a wrong header checksum or a header length of 4.</summary>
    private static string BrokenHeaderFrames(string from, string to, int count, string broken) => $$"""
        import socket, struct
        def checksum(data):
            total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
            while total >> 16: total = (total & 0xffff) + (total >> 16)
            return ~total & 0xffff
        s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
        s.bind(("{{from}}", 0))
        s.setsockopt(263, 20, 1)  # SOL_PACKET, PACKET_QDISC_BYPASS
        mac = lambda d: bytes.fromhex(open("/sys/class/net/%s/address" % d).read().strip().replace(":", ""))
        udp = struct.pack("!HHHH", 40000, 7531, 8 + 18, 0) + b"x" * 18
        for _ in range({{count}}):
            ihl = 4 if "{{broken}}" == "ihl" else 5
            header = struct.pack("!BBHHHBBH4s4s", 4 << 4 | ihl, 0, 20 + len(udp), 1, 0, 64, 17, 0, socket.inet_aton("10.9.1.1"), socket.inet_aton("10.9.1.2"))
            good = checksum(header)
            header = header[:10] + struct.pack("!H", good ^ 0x5a5a if "{{broken}}" == "checksum" else good) + header[12:]
            s.send(mac("{{to}}") + mac("{{from}}") + b"\x08\x00" + header + udp)
        """;

    /// <summary>
    /// Datagrams to a neighbour that never answers ARP, its queue of unresolved packets one byte long: each datagram
    /// pushes the one before out (NEIGH_QUEUEFULL at __neigh_event_send). The only counter is the neighbour table's
    /// unresolved_discards, in /proc/net/stat/arp_cache of the initial namespace and summed over every namespace, so
    /// the table says no counter DropBoard reads sees them, and no attribution row may claim them.
    /// </summary>
    [Fact]
    public async Task Packets_pushed_out_of_an_unresolved_neighbours_queue_are_NEIGH_QUEUEFULL_and_no_counters()
    {
        using var ns = NetNamespace.Create();
        var (va, _) = Veth(ns);
        ns.Exec("sysctl", "-q", "-w", $"net.ipv4.neigh.{va}.unres_qlen_bytes=1");
        using var _ = KernelTestLock.Acquire();
        const int datagrams = 40;
        var discardsBefore = UnresolvedDiscards();

        var (summary, _) = await WatchWhile(ns, () => { UdpTraffic.SendTo(ns, new IPEndPoint(IPAddress.Parse("10.9.0.5"), 7521), datagrams); return 0; }, done: null);

        // The last one stays queued until resolution fails (NEIGH_FAILED, seconds later).
        var drops = Drops(summary, "NEIGH_QUEUEFULL", ["__neigh_event_send"]).Sum(d => d.Count);
        Assert.Equal(datagrams - 1, drops);
        var discards = UnresolvedDiscards() - discardsBefore;
        Assert.InRange(discards, drops, drops + 50);
        Assert.Empty(KernelKnowledge.Feed("__neigh_event_send", "NEIGH_QUEUEFULL", 0x0800, null).Counters);
        Assert.DoesNotContain(Rows(summary), r => r.GetProperty("sites").EnumerateArray().Any(s => s.GetProperty("reason").GetString() == "NEIGH_QUEUEFULL"));
        TestContext.Current.TestOutputHelper?.WriteLine($"NEIGH_QUEUEFULL: {drops} drops of {datagrams} datagrams; arp_cache unresolved_discards +{discards} (machine-wide)");
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

    /// <summary>unresolved_discards of the ARP table, summed over CPUs (hex columns of /proc/net/stat/arp_cache).</summary>
    private static long UnresolvedDiscards()
    {
        var lines = File.ReadAllLines("/proc/net/stat/arp_cache");
        var column = Array.IndexOf(lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries), "unresolved_discards");
        return lines.Skip(1).Sum(l => Convert.ToInt64(l.Split(' ', StringSplitOptions.RemoveEmptyEntries)[column], 16));
    }

    private static JsonElement Qdisc(NetNamespace ns, string device) =>
        JsonDocument.Parse(ns.Exec("tc", "-s", "-j", "qdisc", "show", "dev", device)).RootElement.EnumerateArray()
            .Single(q => q.GetProperty("root").ValueKind == JsonValueKind.True);

    private static long TcDropped(NetNamespace ns, string device) => Qdisc(ns, device).GetProperty("drops").GetInt64();

    /// <summary>Until the qdisc's drop count has stood still for a second (at most 15 s).</summary>
    private static void QdiscQuiet(NetNamespace ns, string device)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var last = TcDropped(ns, device); clock.Elapsed < TimeSpan.FromSeconds(15);)
        {
            Thread.Sleep(1000);
            var now = TcDropped(ns, device);
            if (now == last) return;
            last = now;
        }
    }

    private static string TcHandle(NetNamespace ns, string device) => Qdisc(ns, device).GetProperty("handle").GetString()!;
}
