using DropBoard.Agent.Counters;

namespace DropBoard.Agent.Tests.Counters;

/// <summary>The /proc/net parsers on real files of 6.18 and layouts of 3.10, and on damaged copies.</summary>
public class ProcNetParsersTests
{
    private static CounterSnapshot Parse(Action<string, string, CounterSnapshot> parser, string fixture)
    {
        var snapshot = new CounterSnapshot();
        parser(Fixture.Text("counters", fixture), fixture, snapshot);
        return snapshot;
    }

    [Fact]
    public void Snmp_of_6_18_gives_every_group_and_counter_by_name()
    {
        var s = Parse(ProcNetParsers.ParseHeaderValuePairs, "snmp-6.18.txt");

        Assert.Empty(s.Problems);
        Assert.Contains("Udp.RcvbufErrors", s.Values.Keys);
        Assert.Contains("Udp.IgnoredMulti", s.Values.Keys);
        Assert.Contains("IcmpMsg.InType3", s.Values.Keys);
        Assert.Equal(ulong.MaxValue, s.Values["Tcp.MaxConn"]); // -1, a constant
        var text = Fixture.Text("counters", "snmp-6.18.txt").Split('\n');
        var udpValues = text.Last(l => l.StartsWith("Udp: ") && char.IsDigit(l[5])).Split(' ');
        Assert.Equal(ulong.Parse(udpValues[2]), s.Values["Udp.NoPorts"]);
    }

    [Fact]
    public void Snmp_of_3_10_without_IgnoredMulti_parses()
    {
        var s = Parse(ProcNetParsers.ParseHeaderValuePairs, "snmp-3.10.txt");

        Assert.Empty(s.Problems);
        Assert.Equal(174UL, s.Values["Udp.InErrors"]);
        Assert.False(s.Values.ContainsKey("Udp.IgnoredMulti"));
    }

    [Fact]
    public void Netstat_snmp6_softnet_and_dev_of_6_18_parse_without_problems()
    {
        var netstat = Parse(ProcNetParsers.ParseHeaderValuePairs, "netstat-6.18.txt");
        var snmp6 = Parse(ProcNetParsers.ParseSnmp6, "snmp6-6.18.txt");
        var softnet = Parse(ProcNetParsers.ParseSoftnet, "softnet_stat-6.18.txt");
        var dev = Parse(ProcNetParsers.ParseDev, "dev-6.18.txt");

        Assert.Empty(netstat.Problems.Concat(snmp6.Problems).Concat(softnet.Problems).Concat(dev.Problems));
        Assert.Contains("TcpExt.ListenOverflows", netstat.Values.Keys);
        Assert.Contains("Udp6.RcvbufErrors", snmp6.Values.Keys);
        Assert.Contains("Icmp6.InErrors", snmp6.Values.Keys);
        Assert.Contains("Dev.lo.rx_dropped", dev.Values.Keys);
        Assert.Contains("Softnet.dropped", softnet.Values.Keys);
    }

    [Fact]
    public void Softnet_sums_the_hex_columns_over_cpus_on_an_old_ten_column_layout()
    {
        var s = Parse(ProcNetParsers.ParseSoftnet, "softnet_stat-3.10.txt");

        Assert.Equal(0x00bb4f1dUL + 0x0023a9c0UL, s.Values["Softnet.processed"]);
        Assert.Equal(7UL, s.Values["Softnet.dropped"]);
        Assert.Equal(0x15UL, s.Values["Softnet.time_squeeze"]);
        Assert.False(s.Values.ContainsKey("Softnet.flow_limit_count"));
    }

    [Fact]
    public void A_value_line_with_a_missing_column_is_reported_and_the_other_groups_still_count()
    {
        var text = Fixture.Text("counters", "snmp-3.10.txt").Replace("Ip: 1 64 18236542 0", "Ip: 1 64 18236542");
        var s = new CounterSnapshot();
        ProcNetParsers.ParseHeaderValuePairs(text, "snmp", s);

        var problem = Assert.Single(s.Problems);
        Assert.Contains("snmp:2", problem);
        Assert.Contains("group Ip", problem);
        Assert.Equal(174UL, s.Values["Udp.InErrors"]);
        Assert.False(s.Values.ContainsKey("Ip.InReceives"));
    }

    [Theory]
    [InlineData("Udp: InDatagrams NoPorts\nUdp: 12 x7\n", "Udp.NoPorts is not a number")]
    [InlineData("Udp: InDatagrams NoPorts\n", "without a value line")]
    [InlineData("Udp: InDatagrams NoPorts\nTcp: 1 2\n", "expected a 'Udp:' value line")]
    public void Garbage_lines_are_named_with_file_and_line(string text, string problem)
    {
        var s = new CounterSnapshot();
        ProcNetParsers.ParseHeaderValuePairs(text, "snmp", s);

        Assert.Contains(s.Problems, p => p.Contains(problem));
    }

    [Fact]
    public void Damaged_dev_and_softnet_lines_are_skipped_with_a_reason()
    {
        var dev = new CounterSnapshot();
        ProcNetParsers.ParseDev("h1\nh2\n  lo: 1 2 3\n eth0: " + string.Join(' ', Enumerable.Range(1, 16)) + "\n", "dev", dev);
        var softnet = new CounterSnapshot();
        ProcNetParsers.ParseSoftnet("0000000a 0000000b zz\n00000001 00000002 00000003\n", "softnet_stat", softnet);

        Assert.Contains(dev.Problems, p => p.Contains("lo has 3 columns"));
        Assert.Equal(4UL, dev.Values["Dev.eth0.rx_dropped"]);
        Assert.Contains(softnet.Problems, p => p.Contains("softnet_stat:1"));
        Assert.Equal(2UL, softnet.Values["Softnet.dropped"]);
    }
}
