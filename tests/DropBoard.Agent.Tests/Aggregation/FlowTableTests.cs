using System.Net;
using DropBoard.Agent.Aggregation;

namespace DropBoard.Agent.Tests.Aggregation;

public class FlowTableTests
{
    private static readonly IPAddress Here = IPAddress.Parse("10.0.0.1"), There = IPAddress.Parse("10.0.0.2");

    [Fact]
    public void A_site_hands_out_its_top_flows_most_first_with_the_kernels_sampled_and_not_sampled_counts()
    {
        var table = new FlowTable();
        for (var port = 1; port <= 12; port++)
            for (var i = 0; i < port; i++)
                table.Add(0x10, 7, 17, Here, (ushort)port, There, 53, 2);
        table.AddSampling(0x10, 7, drops: 500, sampled: 78);
        table.AddSampling(0x10, 7, drops: 20, sampled: 0);

        var site = Assert.Single(table.Flush(pc => ($"site_{pc:x}+0x0", $"site_{pc:x}"), netns => $"ns{netns}"));

        Assert.Equal(("site_10+0x0", 78L, 442L, 7u, "ns7"), (site.Site, site.Sampled, site.NotSampled, site.Netns, site.NetnsName));
        Assert.Equal(Enumerable.Range(3, 10).Reverse().Select(p => (ushort)p), site.Top.Select(f => f.SourcePort));
        Assert.Equal((17, "10.0.0.1", "10.0.0.2", (ushort)53, 12L, 2), (site.Top[0].IpProtocol, site.Top[0].Source, site.Top[0].Destination,
            site.Top[0].DestinationPort, site.Top[0].Count, site.Top[0].Ifindex));
        Assert.Empty(table.Flush(pc => ("x", "x"), null));
    }

    [Fact]
    public void Sites_are_kept_apart_by_namespace_and_ordered_by_drops()
    {
        var table = new FlowTable();
        table.AddSampling(0x10, 1, drops: 5, sampled: 5);
        table.AddSampling(0x10, 2, drops: 9, sampled: 1);

        var sites = table.Flush(pc => ("s+0x0", "s"), null);

        Assert.Equal([(2u, 1L, 8L), (1u, 5L, 0L)], sites.Select(s => (s.Netns, s.Sampled, s.NotSampled)));
    }

    [Fact]
    public void Distinct_flows_past_the_bound_are_not_told_apart_and_a_packet_that_is_not_IP_makes_no_flow()
    {
        var table = new FlowTable();
        for (var i = 0; i < FlowTable.MaxFlowsPerSite; i++)
            table.Add(0x10, 1, 6, Here, (ushort)i, There, 80, 1);
        for (var i = 0; i < 5; i++) table.Add(0x10, 1, 6, There, 9, Here, 80, 1); // a flow past the bound
        for (var i = 0; i < 3; i++) table.Add(0x10, 1, 6, Here, 0, There, 80, 1); // one already told apart
        table.Add(0x20, 1, 0, null, 0, null, 0, 1);

        var site = Assert.Single(table.Flush(pc => ("s+0x0", "s"), null));

        Assert.Equal((4L, "10.0.0.1", (ushort)0), (site.Top[0].Count, site.Top[0].Source, site.Top[0].SourcePort));
        Assert.DoesNotContain(site.Top, f => f.Source == "10.0.0.2");
    }
}
