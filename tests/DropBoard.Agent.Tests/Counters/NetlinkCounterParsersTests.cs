using System.Text.Json;
using DropBoard.Agent.Counters;
using DropBoard.Agent.Netlink;

namespace DropBoard.Agent.Tests.Counters;

/// <summary>
/// The rtnetlink and nftables parsers on dumps recorded from the 6.18 kernel (<c>Fixtures/counters/record-netlink.py</c>),
/// held to what the kernel's own tools printed at the same moment: <c>tc -s -j qdisc</c>, <c>nft -j list ruleset</c>,
/// <c>ip -s -s -j link</c> and the namespace's /sys/class/net/*/statistics.
/// </summary>
public class NetlinkCounterParsersTests
{
    private static IEnumerable<byte[]> Replies(string recording) =>
        NetlinkRecording.Read(Fixture.Path("counters", recording)).Where(d => d.Kind == "reply").Select(d => d.Bytes);

    private static JsonElement Json(string file) => JsonDocument.Parse(Fixture.Text("counters", file)).RootElement;

    private static (CounterSnapshot Snapshot, Dictionary<int, string> Devices) Links()
    {
        var snapshot = new CounterSnapshot();
        var devices = new Dictionary<int, string>();
        foreach (var reply in Replies("rtnetlink-link.rec")) RtnetlinkCounters.ParseLinks(reply, devices, snapshot);
        Assert.Empty(snapshot.Problems);
        return (snapshot, devices);
    }

    [Fact]
    public void Qdisc_statistics_equal_tc_s_j_qdisc()
    {
        var (snapshot, devices) = Links();
        foreach (var reply in Replies("rtnetlink-qdisc.rec")) RtnetlinkCounters.ParseQdiscs(reply, devices, snapshot);
        Assert.Empty(snapshot.Problems);

        var expected = new Dictionary<string, ulong>();
        foreach (var qdisc in Json("rtnetlink-qdisc.tc.json").EnumerateArray())
        {
            var prefix = $"Qdisc.{qdisc.GetProperty("dev").GetString()}.{qdisc.GetProperty("handle").GetString()}";
            expected[$"{prefix}.dropped"] = qdisc.GetProperty("drops").GetUInt64();
            expected[$"{prefix}.overlimits"] = qdisc.GetProperty("overlimits").GetUInt64();
            expected[$"{prefix}.requeues"] = qdisc.GetProperty("requeues").GetUInt64();
            expected[$"{prefix}.backlog_bytes"] = qdisc.GetProperty("backlog").GetUInt64();
            expected[$"{prefix}.backlog_packets"] = qdisc.GetProperty("qlen").GetUInt64();
        }
        var actual = snapshot.Values.Where(v => v.Key.StartsWith("Qdisc.", StringComparison.Ordinal)).ToDictionary();
        Assert.Equal(expected.OrderBy(e => e.Key), actual.OrderBy(e => e.Key));
        // The recording's point: the tbf on va dropped part of a UDP burst and held some in its queue.
        var tbf = Json("rtnetlink-qdisc.tc.json").EnumerateArray().Single(q => q.GetProperty("kind").GetString() == "tbf");
        Assert.True(tbf.GetProperty("drops").GetInt32() > 100 && tbf.GetProperty("qlen").GetInt32() > 0);
        Assert.True(CounterDeltas.IsGauge($"Qdisc.va.{tbf.GetProperty("handle").GetString()}.backlog_bytes"));
        Assert.False(CounterDeltas.IsGauge($"Qdisc.va.{tbf.GetProperty("handle").GetString()}.dropped"));
    }

    [Fact]
    public void Device_detail_counters_equal_sysfs_statistics_and_ip_s_s_link()
    {
        var (snapshot, devices) = Links();
        Assert.Equal(["lo", "va", "vb"], devices.Values.Order());
        var sysfs = Json("rtnetlink-link.sysfs.json");
        var compared = 0;
        foreach (var (name, value) in snapshot.Values)
        {
            var parts = name.Split('.');
            if (!sysfs.GetProperty(parts[1]).TryGetProperty(parts[2], out var file)) continue;
            Assert.True(file.GetUInt64() == value, $"{name} = {value}, /sys/class/net/{parts[1]}/statistics/{parts[2]} = {file}");
            compared++;
        }
        Assert.Equal(3 * 10, compared); // the 10 detail counters sysfs has a file for (all but rx_otherhost_dropped), on every device
        // rx_otherhost_dropped has no sysfs file; ip -s -s prints it as "otherhost". vb dropped 7 frames for another MAC.
        foreach (var link in Json("rtnetlink-link.ip.json").EnumerateArray())
        {
            var rx = link.GetProperty("stats64").GetProperty("rx");
            var otherhost = rx.TryGetProperty("otherhost", out var o) ? o.GetUInt64() : 0;
            Assert.Equal(otherhost, snapshot.Values[$"Dev.{link.GetProperty("ifname").GetString()}.rx_otherhost_dropped"]);
        }
        Assert.Equal(7UL, snapshot.Values["Dev.vb.rx_otherhost_dropped"]);
        // What /proc/net/dev prints as it is (rx_dropped, rx_bytes…) is not read twice.
        Assert.DoesNotContain("Dev.vb.rx_dropped", snapshot.Values.Keys);
    }

    [Fact]
    public void Rule_counters_of_nft_and_iptables_nft_equal_nft_j_list_ruleset_with_their_text()
    {
        var snapshot = new CounterSnapshot();
        foreach (var reply in Replies("nftables-rules.rec")) NftRuleCounters.Parse(reply, snapshot);
        Assert.Empty(snapshot.Problems);

        var expected = new Dictionary<string, ulong>();
        foreach (var item in Json("nftables-rules.nft.json").GetProperty("nftables").EnumerateArray())
        {
            if (!item.TryGetProperty("rule", out var rule)) continue;
            var counter = rule.GetProperty("expr").EnumerateArray().Single(e => e.TryGetProperty("counter", out _)).GetProperty("counter");
            expected[$"Netfilter.{rule.GetProperty("family").GetString()}.{rule.GetProperty("table").GetString()}.{rule.GetProperty("chain").GetString()}.{rule.GetProperty("handle").GetInt64()}"] =
                counter.GetProperty("packets").GetUInt64();
        }
        Assert.Equal(expected.OrderBy(e => e.Key), snapshot.Values.OrderBy(e => e.Key));
        Assert.Equal([9UL, 30UL, 50UL], snapshot.Values.Values.Order());

        // nft prints them "udp dport 7201 counter packets 50 bytes 6400 drop comment ..." and (iptables-nft)
        // "meta l4proto udp udp dport 7202 counter ... drop": the netlink expressions are meta l4proto, payload th 2/2, cmp.
        var nft = snapshot.Texts["Netfilter.inet.dbt.input.2"];
        var iptables = snapshot.Texts["Netfilter.ip.filter.INPUT.2"];
        Assert.Equal("meta l4proto 17 th dport 7201 counter drop comment \"dropboard test\"", nft);
        Assert.Equal("meta l4proto 17 th dport 7202 counter drop", iptables);
        // nft prints it so; the netlink expressions are ct state into a register, a mask of the invalid bit, cmp != 0.
        var invalid = snapshot.Texts["Netfilter.inet.dbt.input.3"];
        Assert.Equal("ct state invalid counter drop", invalid);
    }

    [Fact]
    public void A_rule_text_is_rendered_again_only_when_the_rules_expressions_changed()
    {
        var first = new CounterSnapshot();
        foreach (var reply in Replies("nftables-rules.rec")) NftRuleCounters.Parse(reply, first);
        const string rule = "Netfilter.inet.dbt.input.2";
        first.Texts[rule] = "kept from before";
        var second = new CounterSnapshot();
        foreach (var reply in Replies("nftables-rules.rec")) NftRuleCounters.Parse(reply, second, first);
        Assert.Equal("kept from before", second.Texts[rule]);

        // The same handle with other expressions (a table deleted and made again restarts its handles).
        second.TextSources[rule]++;
        var third = new CounterSnapshot();
        foreach (var reply in Replies("nftables-rules.rec")) NftRuleCounters.Parse(reply, third, second);
        Assert.Equal("meta l4proto 17 th dport 7201 counter drop comment \"dropboard test\"", third.Texts[rule]);
    }

    [Fact]
    public void A_dump_cut_short_is_a_parse_error_not_a_read_past_the_end()
    {
        var reply = Replies("nftables-rules.rec").First();
        for (var length = 17; length < reply.Length; length += 7)
        {
            var cut = reply[..length];
            System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(cut, (uint)Math.Min(length, System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(cut)));
            try
            {
                NftRuleCounters.Parse(cut, new CounterSnapshot());
                RtnetlinkCounters.ParseQdiscs(cut, new Dictionary<int, string>(), new CounterSnapshot());
            }
            catch (NetlinkParseException)
            {
            }
        }
    }

    [Fact]
    public void Qdisc_handles_read_as_tc_prints_them()
    {
        Span<char> text = stackalloc char[32];
        Assert.Equal("8001:", text[..RtnetlinkCounters.HandleText(0x80010000, 0xFFFFFFFF, text)].ToString());
        Assert.Equal("ffff:", text[..RtnetlinkCounters.HandleText(0xFFFF0000, 0xFFFFFFF1, text)].ToString());
        Assert.Equal("0:", text[..RtnetlinkCounters.HandleText(0, 0xFFFFFFFF, text)].ToString());
        // The kernel's own qdiscs under mq: "qdisc pfifo_fast 0: parent :3" and, under a handle, "parent 1:3".
        Assert.Equal("0:parent:3", text[..RtnetlinkCounters.HandleText(0, 0x00000003, text)].ToString());
        Assert.Equal("0:parent1:3", text[..RtnetlinkCounters.HandleText(0, 0x00010003, text)].ToString());
    }

    [Fact]
    public void Conntrack_statistics_equal_conntrack_S_summed_over_cpus()
    {
        var snapshot = new CounterSnapshot();
        ProcNetParsers.ParseConntrackStat(Fixture.Bytes("counters", "nf_conntrack-6.18.txt"), "nf_conntrack", snapshot);
        Assert.Empty(snapshot.Problems);
        // conntrack -S reads the same per-CPU statistics over ctnetlink (IPCTNL_MSG_CT_GET_STATS_CPU), some under other names.
        var names = new Dictionary<string, string> { ["error"] = "icmp_error", ["clash_resolve"] = "clashres", ["chaintoolong"] = "chainlength" };
        var sums = Fixture.Text("counters", "nf_conntrack-6.18.conntrack-S.txt").Split('\n')
            .SelectMany(l => l.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
            .Select(f => f.Split('='))
            .Where(f => f[0] != "cpu")
            .GroupBy(f => names.GetValueOrDefault(f[0], f[0]), f => long.Parse(f[1]))
            .ToDictionary(g => $"Conntrack.{g.Key}", g => (ulong)g.Sum());
        Assert.Equal(10, sums.Count);
        foreach (var (name, sum) in sums) Assert.True(snapshot.Values[name] == sum, $"{name}: {snapshot.Values[name]}, conntrack -S {sum}");
        Assert.Equal(18UL, snapshot.Values["Conntrack.invalid"]); // 9 SYN+FIN segments, judged on output and again on input
        Assert.Equal(3UL, snapshot.Values["Conntrack.entries"]); // printed on every CPU's line, stored once
        Assert.True(CounterDeltas.IsGauge("Conntrack.entries"));
    }
}
