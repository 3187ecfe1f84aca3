using System.Text.Json;
using DropBoard.Agent.Tests.Kernel;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Counters;

/// <summary>
/// Proof by experiment for the counter families read over netlink and /proc/net/stat: each test makes real drops in a
/// fresh network namespace while the agent (<c>watch --source tracepoint --json --netns</c>) runs, then holds three
/// witnesses to each other exactly: the kernel's own tool (<c>tc</c>, <c>nft</c>, <c>ip</c>, <c>conntrack -S</c>), the
/// agent's counter delta, and the drops the agent captured with the matching reason. Capture is machine-wide, so drops
/// are counted only at the test's own functions and reason.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class CounterFamiliesKernelTests
{
    // Where a qdisc's drop is freed: __dev_xmit_skb (inlined into __dev_queue_xmit) frees the to_free list.
    private static readonly string[] QdiscSites = ["__dev_queue_xmit", "__dev_xmit_skb", "dev_qdisc_enqueue"];
    private static readonly string[] NetfilterSites = ["nf_hook_slow", "nft_do_chain"];
    // Compared without a compiler suffix: the drop at no handler is at __netif_receive_skb_core.constprop.0 on 6.18.
    private static readonly string[] ReceiveSites = ["__netif_receive_skb_core", "__netif_receive_skb_one_core", "ip_rcv_core", "ip_rcv", "ip_list_rcv"];

    [Fact]
    public async Task A_tbf_with_a_tiny_limit_drops_as_many_as_tc_counts_as_Qdisc_dropped_and_QDISC_DROP()
    {
        Privileged.RequireCommand("tc", "iproute2");
        using var ns = NetNamespace.Create();
        var (va, _) = Veth(ns);
        ns.Exec("tc", "qdisc", "add", "dev", va, "root", "tbf", "rate", "8kbit", "burst", "1600", "limit", "3000");
        using var _ = KernelTestLock.Acquire();
        var sndbufBefore = ns.Snmp("Udp", "SndbufErrors");
        var before = Tbf(ns, va);

        var summary = await Watch(ns, () => SendUdp(ns, "10.9.0.2", 7301, 300));

        var after = Tbf(ns, va);
        var dropped = after.GetProperty("drops").GetInt64() - before.GetProperty("drops").GetInt64();
        Assert.True(dropped > 200, $"the tbf should drop most of a 300-datagram burst; tc says {dropped}");
        var name = $"Qdisc.{va}.{after.GetProperty("handle").GetString()}";
        Assert.True(dropped == CounterInSummary(summary, $"{name}.dropped"), $"before {before}\nafter {after}\n{summary}");
        // overlimits go on rising after the agent stopped, while the tbf waits for tokens to send its backlog.
        var overlimits = CounterInSummary(summary, $"{name}.overlimits");
        Assert.True(overlimits >= dropped && overlimits <= after.GetProperty("overlimits").GetInt64() - before.GetProperty("overlimits").GetInt64());
        Assert.Equal(dropped, Drops(summary, "QDISC_DROP", QdiscSites));
        // Each refused datagram is an ENOBUFS the socket did not ask to hear about (no IP_RECVERR): Udp SndbufErrors.
        Assert.Equal(dropped, ns.Snmp("Udp", "SndbufErrors") - sndbufBefore);
        Assert.Equal(dropped, CounterInSummary(summary, "Udp.SndbufErrors"));
        Log($"tc: {name} dropped +{dropped}; agent: counter +{CounterInSummary(summary, $"{name}.dropped")}, QDISC_DROP {Drops(summary, "QDISC_DROP", QdiscSites)}, Udp.SndbufErrors +{CounterInSummary(summary, "Udp.SndbufErrors")}");
        // The backlog is a gauge: never sent as a delta.
        Assert.Equal(0, CounterInSummary(summary, $"{name}.backlog_bytes"));
    }

    [Fact]
    public async Task An_nft_rule_and_an_iptables_nft_rule_count_as_nft_lists_them_and_as_NETFILTER_DROP()
    {
        Privileged.RequireCommand("nft", "nftables");
        Privileged.RequireCommand("iptables-nft", "iptables");
        using var ns = NetNamespace.Create();
        ns.Exec("nft", "add table inet dbt; add chain inet dbt input { type filter hook input priority 0; };"
                       + " add rule inet dbt input udp dport 7311 counter drop comment \"dropboard test\"");
        ns.Exec("iptables-nft", "-A", "INPUT", "-p", "udp", "--dport", "7312", "-j", "DROP");
        using var _ = KernelTestLock.Acquire();

        var summary = await Watch(ns, () =>
        {
            SendUdp(ns, "127.0.0.1", 7311, 250);
            SendUdp(ns, "127.0.0.1", 7312, 130);
        });

        var rules = NftRules(ns);
        var nft = rules.Single(r => r.Family == "inet");
        var iptables = rules.Single(r => r.Family == "ip");
        Assert.Equal((250L, 130L), (nft.Packets, iptables.Packets));
        var nftCounter = Counter(summary, $"Netfilter.inet.dbt.input.{nft.Handle}");
        var iptablesCounter = Counter(summary, $"Netfilter.ip.filter.INPUT.{iptables.Handle}");
        Assert.Equal((nft.Packets, iptables.Packets), (nftCounter.Delta, iptablesCounter.Delta));
        Assert.Equal("meta l4proto 17 th dport 7311 counter drop comment \"dropboard test\"", nftCounter.Text);
        Assert.Equal("meta l4proto 17 th dport 7312 counter drop", iptablesCounter.Text);
        Assert.Equal(nft.Packets + iptables.Packets, Drops(summary, "NETFILTER_DROP", NetfilterSites));
        Log($"nft: inet {nft.Packets}, ip (iptables-nft) {iptables.Packets}; agent: {nftCounter.Delta}, {iptablesCounter.Delta}, NETFILTER_DROP {Drops(summary, "NETFILTER_DROP", NetfilterSites)}");
    }

    [Fact]
    public async Task Frames_a_device_cannot_deliver_count_as_ip_link_shows_them_and_as_their_drop_reasons()
    {
        Privileged.RequireCommand("python3", "python3");
        using var ns = NetNamespace.Create();
        var (va, vb) = Veth(ns);
        using var _ = KernelTestLock.Acquire();
        var before = LinkStats(ns, vb);

        // 40 frames of an EtherType no protocol handles, 23 IPv4 frames for another host's MAC.
        var summary = await Watch(ns, () => SendFrames(ns, va, vb, unknownEtherType: 40, otherHost: 23));

        var after = LinkStats(ns, vb);
        var (dropped, otherhost) = (after.Dropped - before.Dropped, after.Otherhost - before.Otherhost);
        Assert.Equal((40L, 23L), (dropped, otherhost));
        Assert.Equal(dropped, CounterInSummary(summary, $"Dev.{vb}.rx_dropped"));
        Assert.Equal(otherhost, CounterInSummary(summary, $"Dev.{vb}.rx_otherhost_dropped"));
        Assert.True(dropped == Drops(summary, "UNHANDLED_PROTO", ReceiveSites), summary.GetProperty("drops").ToString());
        Assert.Equal(otherhost, Drops(summary, "OTHERHOST", ReceiveSites));
        Log($"ip -s -s link: {vb} rx dropped +{dropped}, otherhost +{otherhost}; agent: UNHANDLED_PROTO {Drops(summary, "UNHANDLED_PROTO", ReceiveSites)}, OTHERHOST {Drops(summary, "OTHERHOST", ReceiveSites)}");
    }

    [Fact]
    public async Task Packets_conntrack_finds_invalid_count_as_conntrack_S_shows_and_a_ct_state_invalid_rule_drops_them()
    {
        Privileged.RequireCommand("nft", "nftables");
        Privileged.RequireCommand("conntrack", "conntrack");
        Privileged.RequireCommand("python3", "python3");
        using var ns = NetNamespace.Create();
        ns.Exec("nft", "add table inet dbt; add chain inet dbt input { type filter hook input priority 0; };"
                       + " add rule inet dbt input ct state invalid counter drop");
        using var _ = KernelTestLock.Acquire();
        var invalidBefore = ConntrackInvalid(ns);

        // TCP segments with SYN and FIN both set: no connection state allows them.
        var summary = await Watch(ns, () => ns.Exec("python3", "-c", SynFinScript(77)));

        var invalid = ConntrackInvalid(ns) - invalidBefore;
        var rule = Assert.Single(NftRules(ns));
        Assert.Equal(77, rule.Packets);
        Assert.True(invalid >= 77, $"conntrack -S counted {invalid} invalid packets, fewer than the 77 sent");
        Assert.Equal(invalid, CounterInSummary(summary, "Conntrack.invalid"));
        Assert.Equal(rule.Packets, Counter(summary, $"Netfilter.inet.dbt.input.{rule.Handle}").Delta);
        Assert.Equal(rule.Packets, Drops(summary, "NETFILTER_DROP", NetfilterSites));
        Log($"conntrack -S: invalid +{invalid}; nft: {rule.Packets}; agent: Conntrack.invalid +{CounterInSummary(summary, "Conntrack.invalid")}, NETFILTER_DROP {Drops(summary, "NETFILTER_DROP", NetfilterSites)}");
    }

    private static void Log(string line) => TestContext.Current.TestOutputHelper?.WriteLine(line);

    /// <summary>
    /// A veth pair inside <paramref name="ns"/>: va has 10.9.0.1/24, vb no address, and 10.9.0.2 is vb's MAC in va's
    /// neighbour table. No IPv6 on them, so no router or neighbour solicitation of their own queues or drops.
    /// </summary>
    internal static (string Va, string Vb) Veth(NetNamespace ns)
    {
        ns.Exec("sysctl", "-q", "-w", "net.ipv6.conf.default.disable_ipv6=1");
        ns.Exec("ip", "link", "add", "va", "type", "veth", "peer", "name", "vb");
        ns.Exec("ip", "addr", "add", "10.9.0.1/24", "dev", "va");
        ns.Exec("ip", "link", "set", "va", "up");
        ns.Exec("ip", "link", "set", "vb", "up");
        ns.Exec("ip", "neigh", "add", "10.9.0.2", "lladdr", ns.Exec("cat", "/sys/class/net/vb/address").Trim(), "dev", "va");
        return ("va", "vb");
    }

    private static JsonElement Tbf(NetNamespace ns, string device) =>
        JsonDocument.Parse(ns.Exec("tc", "-s", "-j", "qdisc", "show", "dev", device)).RootElement.EnumerateArray()
            .Single(q => q.GetProperty("kind").GetString() == "tbf");

    private static void SendUdp(NetNamespace ns, string address, int port, int datagrams)
    {
        using var socket = ns.CreateSocket(System.Net.Sockets.AddressFamily.InterNetwork, System.Net.Sockets.SocketType.Dgram, System.Net.Sockets.ProtocolType.Udp);
        var to = new System.Net.IPEndPoint(System.Net.IPAddress.Parse(address), port);
        var payload = new byte[100];
        for (var i = 0; i < datagrams; i++) socket.SendTo(payload, to);
    }

    /// <summary>Raw frames from va to vb through a packet socket that bypasses va's qdisc.</summary>
    private static void SendFrames(NetNamespace ns, string from, string to, int unknownEtherType, int otherHost) =>
        ns.Exec("python3", "-c", $$"""
            import socket
            s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
            s.bind(("{{from}}", 0))
            s.setsockopt(263, 20, 1)  # SOL_PACKET, PACKET_QDISC_BYPASS
            dst = bytes.fromhex(open("/sys/class/net/{{to}}/address").read().strip().replace(":", ""))
            src = bytes.fromhex(open("/sys/class/net/{{from}}/address").read().strip().replace(":", ""))
            ipv4 = bytes.fromhex("450000140000000040ff0000" "0a090001" "0a090002")
            for _ in range({{unknownEtherType}}):
                s.send(dst + src + b"\x88\xb5" + b"\0" * 46)
            for _ in range({{otherHost}}):
                s.send(b"\x02\0\0\0\0\x99" + src + b"\x08\x00" + ipv4 + b"\0" * 26)
            """);

    /// <summary>SYN+FIN segments to 127.0.0.1:7321 through a raw socket (the kernel adds the IP header).</summary>
    private static string SynFinScript(int count) => $$"""
        import socket, struct
        def checksum(data):
            if len(data) % 2: data += b"\0"
            total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
            while total >> 16: total = (total & 0xffff) + (total >> 16)
            return ~total & 0xffff
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_TCP)
        for i in range({{count}}):
            tcp = struct.pack("!HHIIBBHHH", 40000 + i, 7321, 1, 0, 5 << 4, 0x03, 65535, 0, 0)
            pseudo = socket.inet_aton("127.0.0.1") * 2 + struct.pack("!BBH", 0, 6, len(tcp))
            tcp = tcp[:16] + struct.pack("!H", checksum(pseudo + tcp)) + tcp[18:]
            s.sendto(tcp, ("127.0.0.1", 0))
        """;

    private static (long Dropped, long Otherhost) LinkStats(NetNamespace ns, string device)
    {
        var rx = JsonDocument.Parse(ns.Exec("ip", "-s", "-s", "-j", "link", "show", device)).RootElement[0].GetProperty("stats64").GetProperty("rx");
        return (rx.GetProperty("dropped").GetInt64(), rx.TryGetProperty("otherhost", out var o) ? o.GetInt64() : 0);
    }

    /// <summary>The sum over CPUs of <c>conntrack -S</c>'s invalid= (read over ctnetlink, not /proc).</summary>
    private static long ConntrackInvalid(NetNamespace ns) =>
        ns.Exec("conntrack", "-S").Split('\n')
            .SelectMany(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.StartsWith("invalid=", StringComparison.Ordinal))
            .Sum(f => long.Parse(f["invalid=".Length..]));

    internal static List<(string Family, long Handle, long Packets)> NftRules(NetNamespace ns) =>
        JsonDocument.Parse(ns.Exec("nft", "-j", "list", "ruleset")).RootElement.GetProperty("nftables").EnumerateArray()
            .Where(i => i.TryGetProperty("rule", out _))
            .Select(i => i.GetProperty("rule"))
            .Select(r => (r.GetProperty("family").GetString()!, r.GetProperty("handle").GetInt64(),
                r.GetProperty("expr").EnumerateArray().Single(e => e.TryGetProperty("counter", out _)).GetProperty("counter").GetProperty("packets").GetInt64()))
            .ToList();

    /// <summary>
    /// Runs the agent on the tracepoint while <paramref name="makeDrops"/> runs. Every drop here happens in the
    /// sending thread's own call (qdisc enqueue, netfilter hook on lo or the veth's receive), so it is over when the
    /// call returns; the agent's last sample, taken as it stops, reads the counters after it.
    /// </summary>
    private static async Task<JsonElement> Watch(NetNamespace ns, Action makeDrops)
    {
        using var agent = AgentProcess.Start("watch", "--source", "tracepoint", "--json", "--interval", "0.5", "--netns", ns.Name);
        await agent.WaitUntilCapturingAsync();
        makeDrops();
        agent.Terminate();
        var exit = await agent.WaitForExitAsync();
        Assert.True(exit == 0, $"agent exited {exit}: {agent.Stderr}");
        var summary = agent.Summary();
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
        return summary;
    }

    private static long Drops(JsonElement summary, string reason, string[] functions) =>
        summary.GetProperty("drops").EnumerateArray()
            .Where(d => d.GetProperty("reason").GetString() == reason && functions.Contains(d.GetProperty("function").GetString()!.Split('.')[0]))
            .Sum(d => d.GetProperty("count").GetInt64());

    private static long CounterInSummary(JsonElement summary, string name) =>
        summary.GetProperty("counters").EnumerateArray().Where(c => c.GetProperty("name").GetString() == name).Sum(c => c.GetProperty("delta").GetInt64());

    private static (long Delta, string? Text) Counter(JsonElement summary, string name)
    {
        var counter = summary.GetProperty("counters").EnumerateArray().SingleOrDefault(c => c.GetProperty("name").GetString() == name);
        Assert.True(counter.ValueKind == JsonValueKind.Object, $"no counter {name} in the summary: {string.Join(", ", summary.GetProperty("counters").EnumerateArray().Select(c => c.GetProperty("name").GetString()))}");
        return (counter.GetProperty("delta").GetInt64(), counter.TryGetProperty("text", out var text) ? text.GetString() : null);
    }
}
