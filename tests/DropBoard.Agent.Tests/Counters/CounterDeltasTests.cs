using DropBoard.Agent.Counters;

namespace DropBoard.Agent.Tests.Counters;

public class CounterDeltasTests
{
    [Theory]
    [InlineData(100UL, 274UL, 174UL)]
    [InlineData(4294967200UL, 50UL, 146UL)]            // a 32-bit counter wrapped: 96 to the top, then 50
    [InlineData(5_000_000_000UL, 10UL, 10UL)]          // a 64-bit value fell: reset, everything since is new
    [InlineData(1000UL, 10UL, 10UL)]                   // small and fell: reset (reboot, namespace recreated)
    [InlineData(42UL, 42UL, 0UL)]
    public void Deltas_are_never_negative(ulong previous, ulong current, ulong delta) =>
        Assert.Equal(delta, CounterDeltas.Delta(previous, current));

    [Fact]
    public void Only_changed_counters_present_in_both_snapshots_become_deltas()
    {
        var before = new CounterSnapshot();
        before.Values["Udp.InErrors"] = 10;
        before.Values["Udp.NoPorts"] = 5;
        before.Values["Dev.veth0.rx_dropped"] = 3;
        var after = new CounterSnapshot();
        after.Values["Udp.InErrors"] = 184;
        after.Values["Udp.NoPorts"] = 5;
        after.Values["Dev.veth1.rx_dropped"] = 9; // new interface: a baseline, not +9

        var deltas = CounterDeltas.Between(before, after, atUnixMs: 1234);

        var d = Assert.Single(deltas);
        Assert.Equal(("Udp.InErrors", 174L, 1234L), (d.Name, d.Delta, d.AtMs));
    }
}
