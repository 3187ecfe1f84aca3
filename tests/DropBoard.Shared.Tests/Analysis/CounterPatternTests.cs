using DropBoard.Shared.Analysis;

namespace DropBoard.Shared.Tests.Analysis;

public class CounterPatternTests
{
    [Theory]
    [InlineData("Qdisc.*.dropped", "Qdisc.eth0.8001:.dropped", true)]
    [InlineData("Qdisc.*.dropped", "Qdisc.eth0.8001:.overlimits", false)]
    [InlineData("Dev.*.rx_dropped", "Dev.eth0.100.rx_dropped", true)] // a VLAN device has a dot in its name
    [InlineData("Dev.*.rx_dropped", "Dev..rx_dropped", true)]
    [InlineData("Dev.*.rx_dropped", "Dev.rx_dropped", false)]
    [InlineData("Netfilter.*", "Netfilter.ip.filter.INPUT.4", true)]
    [InlineData("Netfilter.*", "Netfilte", false)]
    [InlineData("tcp_*", "tcp_v4_rcv", true)]
    [InlineData("tcp_*", "__tcp_close", false)]
    [InlineData("*_rcv*", "tcp_v4_rcv", true)]
    [InlineData("Udp.InErrors", "Udp.InErrors", true)]
    [InlineData("Udp.InErrors", "Udp6.InErrors", false)]
    [InlineData("a*b*c", "aXbYbZc", true)]
    [InlineData("a*b*c", "aXbYc", true)]
    [InlineData("a*b*c", "aXcYb", false)]
    public void A_star_stands_for_any_text_and_the_rest_is_exact(string pattern, string name, bool matches)
    {
        Assert.Equal(matches, CounterPattern.Matches(pattern, name));
    }

    [Fact]
    public void Patterns_of_the_table_make_their_family_loss_counters()
    {
        Assert.True(CounterAttributor.IsLossCounter("Netfilter.inet.filter.input.7"));
        Assert.True(CounterAttributor.IsLossCounter("Dev.veth1.tx_dropped"));
        Assert.False(CounterAttributor.IsLossCounter("Dev.veth1.tx_packets"));
        Assert.DoesNotContain(KernelKnowledge.LossCounters, CounterPattern.IsPattern);
    }
}
