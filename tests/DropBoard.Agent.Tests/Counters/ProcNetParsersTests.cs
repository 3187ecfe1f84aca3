using DropBoard.Agent.Counters;

namespace DropBoard.Agent.Tests.Counters;

/// <summary>The /proc/net parsers on real 6.18 files, on layouts of older kernels, and on damaged copies.</summary>
public class ProcNetParsersTests
{
    private delegate void Parser(ReadOnlySpan<byte> text, string file, CounterSnapshot into);

    private static CounterSnapshot Parse(Parser parser, string fixture)
    {
        var snapshot = new CounterSnapshot();
        parser(Fixture.Bytes("counters", fixture), fixture, snapshot);
        return snapshot;
    }

    private static CounterSnapshot ParseText(Parser parser, string text, string file = "f")
    {
        var snapshot = new CounterSnapshot();
        parser(System.Text.Encoding.UTF8.GetBytes(text), file, snapshot);
        return snapshot;
    }

    /// <summary>Every "Group: names" line of the file paired with its value line, the slow obvious way.</summary>
    private static Dictionary<string, ulong> ObviousPairs(string fixture)
    {
        var lines = Fixture.Text("counters", fixture).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var expected = new Dictionary<string, ulong>();
        for (var i = 0; i < lines.Length; i += 2)
        {
            var names = lines[i].Split(' ');
            var values = lines[i + 1].Split(' ');
            for (var k = 1; k < names.Length; k++)
                expected[$"{names[0].TrimEnd(':')}.{names[k]}"] = values[k].StartsWith('-') ? unchecked((ulong)long.Parse(values[k])) : ulong.Parse(values[k]);
        }
        return expected;
    }

    [Theory]
    [InlineData("snmp-6.18.txt")]
    [InlineData("netstat-6.18.txt")]
    [InlineData("snmp-3.10.txt")]
    [InlineData("snmp-3.2.txt")]
    public void Header_value_files_give_every_counter_of_every_group(string fixture)
    {
        var s = Parse(ProcNetParsers.ParseHeaderValuePairs, fixture);

        Assert.Empty(s.Problems);
        Assert.Equal(ObviousPairs(fixture).OrderBy(p => p.Key), s.Values.OrderBy(p => p.Key));
    }

    [Fact]
    public void Snmp_of_6_18_has_the_udp_counters_by_name()
    {
        var s = Parse(ProcNetParsers.ParseHeaderValuePairs, "snmp-6.18.txt");

        Assert.Equal((1UL, 1999UL, 1999UL, 0UL), (s.Values["Udp.NoPorts"], s.Values["Udp.InErrors"], s.Values["Udp.RcvbufErrors"], s.Values["Udp.IgnoredMulti"]));
        Assert.Equal(2UL, s.Values["IcmpMsg.InType3"]);
        Assert.Equal(ulong.MaxValue, s.Values["Tcp.MaxConn"]); // -1, a constant
    }

    [Fact]
    public void Older_snmp_layouts_have_fewer_udp_counters_and_still_parse()
    {
        var v310 = Parse(ProcNetParsers.ParseHeaderValuePairs, "snmp-3.10.txt");
        var v32 = Parse(ProcNetParsers.ParseHeaderValuePairs, "snmp-3.2.txt");

        Assert.Equal(174UL, v310.Values["Udp.InErrors"]);
        Assert.Equal(0UL, v310.Values["Udp.InCsumErrors"]);
        Assert.DoesNotContain("Udp.IgnoredMulti", v310.Values.Keys);
        Assert.Equal(9UL, v32.Values["Udp.RcvbufErrors"]);
        Assert.DoesNotContain(v32.Values.Keys, k => k.EndsWith(".InCsumErrors"));
    }

    [Fact]
    public void Netstat_of_6_18_has_the_tcp_and_ip_extensions()
    {
        var s = Parse(ProcNetParsers.ParseHeaderValuePairs, "netstat-6.18.txt");

        Assert.Contains("TcpExt.ListenOverflows", s.Values.Keys);
        Assert.Contains("IpExt.InNoRoutes", s.Values.Keys);
        Assert.Contains(s.Values.Keys, k => k.StartsWith("MPTcpExt."));
    }

    [Fact]
    public void Snmp6_splits_each_name_after_its_group_prefix()
    {
        var s = Parse(ProcNetParsers.ParseSnmp6, "snmp6-6.18.txt");

        Assert.Empty(s.Problems);
        Assert.Equal(Fixture.Text("counters", "snmp6-6.18.txt").Split('\n', StringSplitOptions.RemoveEmptyEntries).Length, s.Values.Count);
        Assert.Equal(1UL, s.Values["Ip6.InReceives"]);
        Assert.Equal(1UL, s.Values["Icmp6.InErrors"]);
        Assert.Equal(4UL, s.Values["Icmp6.OutType135"]);
        Assert.Equal(0UL, s.Values["Udp6.InErrors"]);
        Assert.Contains("Udp6.RcvbufErrors", s.Values.Keys);
        Assert.Contains("UdpLite6.InDatagrams", s.Values.Keys);
        Assert.Equal(["Icmp6", "Ip6", "Udp6", "UdpLite6"], s.Values.Keys.Select(k => k[..k.IndexOf('.')]).Distinct().Order());
    }

    [Theory]
    [InlineData("Tcp6InSegs 3\n", "Tcp6.InSegs")]          // a group this code has never heard of
    [InlineData("Ip6 3\n", "Snmp6.Ip6")]                    // nothing after the prefix
    [InlineData("Weird 3\n", "Snmp6.Weird")]                // no digits at all
    public void Snmp6_names_without_a_known_group_still_count(string text, string name) =>
        Assert.Equal(3UL, ParseText(ProcNetParsers.ParseSnmp6, text).Values[name]);

    [Fact]
    public void Softnet_of_6_18_keeps_each_cpu_and_sums_them()
    {
        var s = Parse(ProcNetParsers.ParseSoftnet, "softnet_stat-6.18.txt");

        Assert.Empty(s.Problems);
        Assert.Equal(0x12UL, s.Values["Softnet.cpu0.processed"]);
        Assert.Equal(0x28e5UL, s.Values["Softnet.cpu1.processed"]);
        Assert.Equal(0x12UL + 0x28e5UL, s.Values["Softnet.processed"]);
        Assert.Equal(0UL, s.Values["Softnet.dropped"]);
        Assert.Equal(0UL, s.Values["Softnet.flow_limit_count"]);
    }

    [Fact]
    public void Softnet_of_3_10_has_ten_columns_and_no_flow_limit()
    {
        var s = Parse(ProcNetParsers.ParseSoftnet, "softnet_stat-3.10.txt");

        Assert.Empty(s.Problems);
        Assert.Equal(0x00bb4f1dUL + 0x0023a9c0UL, s.Values["Softnet.processed"]);
        Assert.Equal(7UL, s.Values["Softnet.dropped"]);
        Assert.Equal(7UL, s.Values["Softnet.cpu1.dropped"]);
        Assert.Equal(0x15UL, s.Values["Softnet.time_squeeze"]);
        Assert.DoesNotContain(s.Values.Keys, k => k.EndsWith("flow_limit_count"));
    }

    [Fact]
    public void Softnet_of_4_19_has_flow_limit_and_cpus_by_position()
    {
        var s = Parse(ProcNetParsers.ParseSoftnet, "softnet_stat-4.19.txt");

        Assert.Equal(2UL, s.Values["Softnet.flow_limit_count"]);
        Assert.Equal(2UL, s.Values["Softnet.cpu1.flow_limit_count"]);
        Assert.Equal(3UL, s.Values["Softnet.cpu1.dropped"]);
        Assert.Contains("Softnet.cpu3.processed", s.Values.Keys);
    }

    [Fact]
    public void Softnet_names_cpus_by_the_id_column_when_the_kernel_prints_it()
    {
        var s = Parse(ProcNetParsers.ParseSoftnet, "softnet_stat-13col-cpu1-offline.txt");

        Assert.Equal(4UL, s.Values["Softnet.cpu2.dropped"]);
        Assert.Equal(0xfffffff0UL, s.Values["Softnet.cpu3.processed"]);
        Assert.DoesNotContain(s.Values.Keys, k => k.StartsWith("Softnet.cpu1."));
        Assert.DoesNotContain(s.Values.Keys, k => k.Contains("backlog")); // a queue length, not a count
    }

    [Fact]
    public void Dev_gives_sixteen_counters_per_interface()
    {
        var s = Parse(ProcNetParsers.ParseDev, "dev-6.18.txt");

        Assert.Empty(s.Problems);
        Assert.Equal(4 * 16, s.Values.Count);
        Assert.Equal(351928229UL, s.Values["Dev.eth0.rx_bytes"]);
        Assert.Equal(6788UL, s.Values["Dev.eth0.tx_packets"]);
        Assert.Equal(0UL, s.Values["Dev.ifb1.rx_dropped"]);
        Assert.Equal(0UL, s.Values["Dev.lo.tx_compressed"]);
    }

    [Fact]
    public void Dev_of_2_6_without_a_space_after_the_colon_parses()
    {
        var s = Parse(ProcNetParsers.ParseDev, "dev-2.6.txt");

        Assert.Empty(s.Problems);
        Assert.Equal(4123456789UL, s.Values["Dev.eth0.rx_bytes"]);
        Assert.Equal(57UL, s.Values["Dev.eth0.rx_dropped"]);
        Assert.Equal(1201UL, s.Values["Dev.eth0.rx_multicast"]);
    }

    [Fact]
    public void A_value_line_missing_a_column_loses_only_its_group()
    {
        var text = Fixture.Text("counters", "snmp-3.10.txt").Replace("Ip: 1 64 18236542 0", "Ip: 1 64 18236542");
        var s = ParseText(ProcNetParsers.ParseHeaderValuePairs, text, "/proc/net/snmp");

        var problem = Assert.Single(s.Problems);
        Assert.Equal("/proc/net/snmp:2: group Ip has 19 names (line 1) but 18 values; group skipped", problem);
        Assert.Equal(174UL, s.Values["Udp.InErrors"]);
        Assert.Equal(14UL, s.Values["IcmpMsg.InType8"]);
        Assert.DoesNotContain(s.Values.Keys, k => k.StartsWith("Ip."));
    }

    [Theory]
    [InlineData("Udp: InDatagrams NoPorts\nUdp: 12 x7\n", "snmp:2: Udp.NoPorts is not a number: 'x7'", "Udp.InDatagrams")]
    [InlineData("Udp: InDatagrams NoPorts\nTcp: ActiveOpens\nTcp: 5\n", "snmp:1: names of group Udp without a line of values", "Tcp.ActiveOpens")]
    [InlineData("Tcp: ActiveOpens\nTcp: 5\nUdp: 1 2\n", "snmp:3: values of group Udp without its line of names", "Tcp.ActiveOpens")]
    [InlineData("Tcp: ActiveOpens\nTcp: 5\ngarbage\n", "snmp:3: no 'Group:' prefix in 'garbage'", "Tcp.ActiveOpens")]
    [InlineData("Tcp: ActiveOpens\nTcp: 5\nUdp: InDatagrams NoPorts\nUdp: 12 3", "snmp:4: group Udp cut short (no end of line); group skipped", "Tcp.ActiveOpens")]
    [InlineData("Udp: InDatagrams\nUdp: 99999999999999999999999\nTcp: ActiveOpens\nTcp: 5\n", "snmp:2: Udp.InDatagrams is not a number: '99999999999999999999999'", "Tcp.ActiveOpens")]
    public void Damaged_header_value_files_name_file_and_line_and_keep_the_rest(string text, string problem, string kept)
    {
        var s = ParseText(ProcNetParsers.ParseHeaderValuePairs, text, "snmp");

        Assert.Contains(problem, s.Problems.Single());
        Assert.Contains(kept, s.Values.Keys);
    }

    [Fact]
    public void A_truncated_copy_of_a_real_file_reports_the_cut_and_keeps_every_complete_group()
    {
        var bytes = Fixture.Bytes("counters", "snmp-6.18.txt");
        var cut = Array.LastIndexOf(bytes, (byte)'\n', bytes.Length - 2) + 12; // a few digits into the last line
        var s = new CounterSnapshot();
        ProcNetParsers.ParseHeaderValuePairs(bytes.AsSpan(0, cut), "snmp", s);

        Assert.Equal("snmp:12: group UdpLite cut short (no end of line); group skipped", Assert.Single(s.Problems));
        Assert.Equal(1999UL, s.Values["Udp.RcvbufErrors"]);
        Assert.DoesNotContain(s.Values.Keys, k => k.StartsWith("UdpLite."));
    }

    [Fact]
    public void Damaged_snmp6_lines_are_named_and_the_others_kept()
    {
        var s = ParseText(ProcNetParsers.ParseSnmp6, "Udp6InErrors 4\nUdp6NoPorts\nUdp6RcvbufErrors x\nIp6InReceives 1 2\nUdp6OutDatagrams 12", "snmp6");

        Assert.Equal(
            ["snmp6:2: expected 'Name value', got 'Udp6NoPorts'", "snmp6:3: expected 'Name value', got 'Udp6RcvbufErrors x'",
             "snmp6:4: expected 'Name value', got 'Ip6InReceives 1 2'", "snmp6:5: expected 'Name value', got 'Udp6OutDatagrams 12' (cut short)"],
            s.Problems);
        Assert.Equal(4UL, Assert.Single(s.Values).Value);
    }

    [Fact]
    public void Damaged_softnet_lines_lose_only_their_cpu()
    {
        var s = ParseText(ProcNetParsers.ParseSoftnet, "0000000a 0000000b zz\n00000001 00000002 00000003\n00000001\n0000000f 00000001 00000001", "softnet_stat");

        Assert.Equal(
            ["softnet_stat:1: 'zz' is not an 8-digit hexadecimal column; this CPU's line skipped", "softnet_stat:3: 1 columns, at least 3 expected; this CPU's line skipped",
             "softnet_stat:4: cut short (no end of line); this CPU's line skipped"],
            s.Problems);
        Assert.Equal(2UL, s.Values["Softnet.dropped"]);
        Assert.Equal(2UL, s.Values["Softnet.cpu1.dropped"]); // CPU 1 by position: line 1 was CPU 0
    }

    [Fact]
    public void A_softnet_line_with_a_stray_column_cannot_take_another_cpus_name()
    {
        var text = Fixture.Text("counters", "softnet_stat-6.18.txt");
        var spaced = ParseText(ProcNetParsers.ParseSoftnet, text.Replace("000028e5 ", "0000 28e5 "), "softnet_stat"); // CPU 1's id column shifts to 0
        var joined = ParseText(ProcNetParsers.ParseSoftnet, text.Replace("000028e5 00000000 ", "000028e5 "), "softnet_stat"); // and to 0 again

        Assert.Equal("softnet_stat:2: '0000' is not an 8-digit hexadecimal column; this CPU's line skipped", Assert.Single(spaced.Problems));
        Assert.Equal("softnet_stat:2: 14 columns where the other CPUs' lines have 15; this CPU's line skipped", Assert.Single(joined.Problems));
        Assert.All([spaced, joined], s => Assert.Equal(0x12UL, s.Values["Softnet.cpu0.processed"]));
        Assert.All([spaced, joined], s => Assert.DoesNotContain("Softnet.cpu1.processed", s.Values.Keys));
    }

    [Fact]
    public void A_repeated_softnet_cpu_id_is_refused()
    {
        var line = Fixture.Text("counters", "softnet_stat-6.18.txt").Split('\n')[1];
        var s = ParseText(ProcNetParsers.ParseSoftnet, $"{line}\n{line}\n", "softnet_stat");

        Assert.Equal("softnet_stat:2: CPU id 1 out of range or repeated; this CPU's line skipped", Assert.Single(s.Problems));
        Assert.Equal(0x28e5UL, s.Values["Softnet.processed"]);
    }

    [Fact]
    public void Damaged_dev_lines_lose_only_their_interface()
    {
        var good = string.Join(' ', Enumerable.Range(1, 16));
        var s = ParseText(ProcNetParsers.ParseDev, $"h1 |\nh2 |\n  lo: 1 2 3\n eth0: {good}\n: {good}\n eth1: {good.Replace("12", "-")}\n eth2: {good}", "dev");

        Assert.Equal(
            ["dev:3: lo has 3 columns, expected 16; interface skipped", $"dev:5: no 'interface:' prefix in ': {good}'",
             "dev:6: Dev.eth1.tx_dropped is not a number: '-'", "dev:7: eth2 has 16 columns and no end of line, expected 16; interface skipped"],
            s.Problems);
        Assert.Equal(4UL, s.Values["Dev.eth0.rx_dropped"]);
        Assert.Equal(11UL, s.Values["Dev.eth1.tx_errors"]);
        Assert.DoesNotContain("Dev.eth1.tx_dropped", s.Values.Keys);
    }

    [Fact]
    public void Non_ascii_interface_names_survive()
    {
        var s = ParseText(ProcNetParsers.ParseDev, $"h |\nh |\n  wlän0: {string.Join(' ', Enumerable.Range(1, 16))}\n");

        Assert.Equal(4UL, s.Values["Dev.wlän0.rx_dropped"]);
    }
}
