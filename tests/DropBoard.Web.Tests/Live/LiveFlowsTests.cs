using DropBoard.Shared.Contracts;
using DropBoard.Web.Live;

namespace DropBoard.Web.Tests.Live;

public sealed class LiveFlowsTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
    private static readonly AgentHello Hello = new("edge-1", "edge-1", "6.18.0", "bpf", "1.0", 10, "i1");

    private static AgentBatch Batch(long sequence, long atMs, params FlowSite[] flows) => new("edge-1", sequence, atMs, [], [], [], 0, 0, Flows: flows);

    private static FlowSite Site(string function, uint netns, long sampled, long notSampled, params DroppedFlow[] top) =>
        new($"{function}+0x10", function, sampled, notSampled, top, netns);

    private static DroppedFlow Flow(ushort port, long count) => new(17, "10.0.0.1", port, "10.0.0.2", 53, count, 2);

    [Fact]
    public async Task A_hosts_flows_add_up_over_the_window_by_site_and_namespace_most_dropped_first()
    {
        var flows = new LiveFlows(new FixedClock(Now));
        var ct = Xunit.TestContext.Current.CancellationToken;
        await flows.OnBatchAsync(Hello, Batch(1, Now.ToUnixTimeMilliseconds() - 90_000, Site("udp_rcv", 7, 5, 95, Flow(1, 5))), ct);
        await flows.OnBatchAsync(Hello, Batch(2, Now.ToUnixTimeMilliseconds() - 1_000, Site("udp_rcv", 7, 4, 6, Flow(1, 2), Flow(2, 2)), Site("tcp_rcv", 8, 3, 0, Flow(3, 3))), ct);
        await flows.OnBatchAsync(Hello, Batch(3, Now.ToUnixTimeMilliseconds() - 20 * 60_000, Site("udp_rcv", 7, 50, 50, Flow(9, 50))), ct);

        var window = flows.Top("edge-1", TimeSpan.FromMinutes(5));

        Assert.Equal([("udp_rcv+0x10", 7u, 9L, 101L), ("tcp_rcv+0x10", 8u, 3L, 0L)], window.Sites.Select(s => (s.Site, s.Netns, s.Sampled, s.NotSampled)));
        Assert.Equal([(1, 7L), (2, 2L)], window.Sites[0].Top.Select(f => ((int)f.SourcePort, f.Count)));
        Assert.Equal((12L, 101L), (window.Sampled, window.NotSampled));
        Assert.Equal([8u], flows.Top("edge-1", TimeSpan.FromMinutes(5), netns: 8).Sites.Select(s => s.Netns));
        Assert.Equal((1, 3L, 101L), (flows.Top("edge-1", TimeSpan.FromMinutes(5), sites: 1).Sites.Count, flows.Top("edge-1", TimeSpan.FromMinutes(5), sites: 1).SampledElsewhere,
            flows.Top("edge-1", TimeSpan.FromMinutes(5), sites: 1).NotSampled));
        Assert.Same(LiveFlows.Window.Empty, flows.Top("other", TimeSpan.FromMinutes(5)));
    }
}
