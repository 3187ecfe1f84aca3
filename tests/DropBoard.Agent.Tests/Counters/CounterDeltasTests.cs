using DropBoard.Agent.Counters;

namespace DropBoard.Agent.Tests.Counters;

public class CounterDeltasTests
{
    [Theory]
    [InlineData(100UL, 274UL, 174UL)]
    [InlineData(42UL, 42UL, 0UL)]
    [InlineData(4294967200UL, 50UL, 146UL)]                 // a 32-bit counter wrapped: 96 to the top, then 50
    [InlineData(4294967295UL, 0UL, 1UL)]                    // wrapped by exactly one
    [InlineData(2147483700UL, 10UL, 2147483606UL)]          // forward by just under half the range: still a wrap
    [InlineData(2147483600UL, 10UL, 10UL)]                  // forward by more than half: a reset
    [InlineData(1000UL, 10UL, 10UL)]                        // small and fell: reset (reboot, namespace recreated)
    [InlineData(5_000_000_000UL, 10UL, 10UL)]               // a 64-bit value fell: reset, everything since is new
    [InlineData(ulong.MaxValue, 3UL, 3UL)]                  // no 64-bit wrap guessing: u64 counters do not wrap in practice
    [InlineData(0UL, ulong.MaxValue, ulong.MaxValue)]
    public void Deltas_are_never_negative(ulong previous, ulong current, ulong delta) =>
        Assert.Equal(delta, CounterDeltas.Delta(previous, current));

    private static CounterSnapshot Snapshot(params (string Name, ulong Value)[] values)
    {
        var s = new CounterSnapshot();
        foreach (var (name, value) in values) s.Values[name] = value;
        return s;
    }

    private static CounterSnapshot Parsed(Action<string, string, CounterSnapshot> parse, string text)
    {
        var s = new CounterSnapshot();
        parse(text, "f", s);
        Assert.Empty(s.Problems);
        return s;
    }

    [Fact]
    public void Only_changed_counters_present_in_both_become_deltas_new_ones_are_a_baseline_and_vanished_ones_forgotten()
    {
        var before = Snapshot(("Udp.InErrors", 10), ("Udp.NoPorts", 5), ("Dev.veth0.rx_dropped", 3));
        var after = Snapshot(("Udp.InErrors", 184), ("Udp.NoPorts", 5), ("Dev.veth1.rx_dropped", 9));

        var d = Assert.Single(CounterDeltas.Between(before, after, atUnixMs: 1234));

        Assert.Equal(("Udp.InErrors", 174L, 1234L), (d.Name, d.Delta, d.AtMs));
    }

    [Fact]
    public void Deltas_come_sorted_by_name_and_a_wrap_or_reset_is_positive()
    {
        var before = Snapshot(("Udp.RcvbufErrors", 4294967290), ("Dev.eth0.rx_dropped", 900), ("IpExt.InOctets", 1));
        var after = Snapshot(("Udp.RcvbufErrors", 4), ("Dev.eth0.rx_dropped", 7), ("IpExt.InOctets", 2));

        var deltas = CounterDeltas.Between(before, after, 1);

        Assert.Equal([("Dev.eth0.rx_dropped", 7L), ("IpExt.InOctets", 1L), ("Udp.RcvbufErrors", 10L)], deltas.Select(d => (d.Name, d.Delta)));
    }

    [Fact]
    public void Settings_and_gauges_are_not_counters()
    {
        var before = Snapshot(("Tcp.CurrEstab", 40), ("Ip.Forwarding", 2), ("Ip.DefaultTTL", 64), ("Tcp.ActiveOpens", 3));
        var after = Snapshot(("Tcp.CurrEstab", 12), ("Ip.Forwarding", 1), ("Ip.DefaultTTL", 32), ("Tcp.ActiveOpens", 4));

        Assert.Equal("Tcp.ActiveOpens", Assert.Single(CounterDeltas.Between(before, after, 1)).Name);
    }

    [Fact]
    public void A_first_icmp_message_type_is_a_rise_from_zero_because_the_kernel_prints_only_non_zero_types()
    {
        var before = Parsed(ProcNetParsers.ParseHeaderValuePairs, "Udp: NoPorts\nUdp: 1\n");
        var after = Parsed(ProcNetParsers.ParseHeaderValuePairs, "Udp: NoPorts\nUdp: 4\nIcmpMsg: OutType3\nIcmpMsg: 3\n");
        var before6 = Parsed(ProcNetParsers.ParseSnmp6, "Icmp6InType1 1\n");
        var after6 = Parsed(ProcNetParsers.ParseSnmp6, "Icmp6InType1 1\nIcmp6OutType135 4\nIcmp6OutRedirects 2\n");

        Assert.Equal([("IcmpMsg.OutType3", 3L), ("Udp.NoPorts", 3L)], CounterDeltas.Between(before, after, 1).Select(d => (d.Name, d.Delta)));
        // OutRedirects is printed even at zero, so its appearance means a new kernel layout: a baseline.
        Assert.Equal([("Icmp6.OutType135", 4L)], CounterDeltas.Between(before6, after6, 1).Select(d => (d.Name, d.Delta)));
        // A snapshot that never read the file implies nothing.
        Assert.Empty(CounterDeltas.Between(new CounterSnapshot(), after, 1));
    }

    [Fact]
    public void Softnet_sums_are_the_sums_of_per_cpu_deltas_and_per_cpu_drops_are_reported()
    {
        var before = Parsed(ProcNetParsers.ParseSoftnet, "00000010 00000001 00000000\n00000020 00000002 00000000\n");
        var after = Parsed(ProcNetParsers.ParseSoftnet, "00000015 00000001 00000000\n00000030 00000009 00000001\n");

        var deltas = CounterDeltas.Between(before, after, 1).Select(d => (d.Name, d.Delta));

        Assert.Equal(
            [("Softnet.cpu1.dropped", 7L), ("Softnet.cpu1.time_squeeze", 1L), ("Softnet.dropped", 7L), ("Softnet.processed", 0x15L), ("Softnet.time_squeeze", 1L)],
            deltas);
    }

    [Fact]
    public void A_cpu_going_offline_or_wrapping_does_not_read_as_a_reset_of_the_softnet_sum()
    {
        // CPU 3's processed is at 0xfffffff0; CPU 1 is offline.
        var before = Parsed(ProcNetParsers.ParseSoftnet, Fixture.Text("counters", "softnet_stat-13col-cpu1-offline.txt"));
        // CPU 2 goes offline too (its line vanishes, taking 0x0029bb10 out of the sum); CPU 3 wraps by 0x20.
        var after = Parsed(ProcNetParsers.ParseSoftnet,
            "001d1a2b 00000000 00000011 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000\n" +
            "00000010 00000000 00000003 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000000 00000003\n");

        var deltas = CounterDeltas.Between(before, after, 1);

        Assert.True(after.Values["Softnet.processed"] < before.Values["Softnet.processed"]);
        Assert.Equal(("Softnet.processed", 0x20L), (Assert.Single(deltas).Name, deltas[0].Delta));
    }

    [Fact]
    public void A_huge_delta_is_capped_at_the_wire_type()
    {
        var d = Assert.Single(CounterDeltas.Between(Snapshot(("Ip6.InOctets", 0)), Snapshot(("Ip6.InOctets", ulong.MaxValue)), 1));

        Assert.Equal(long.MaxValue, d.Delta);
    }
}
