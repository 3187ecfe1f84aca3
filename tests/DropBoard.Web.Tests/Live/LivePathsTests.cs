using DropBoard.Shared.Contracts;
using DropBoard.Web.Live;

namespace DropBoard.Web.Tests.Live;

public sealed class LivePathsTests
{
    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000);

    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
    private static readonly AgentHello Hello = new("edge-1", "edge-1", "6.18.0", "bpf", "1.0", 10, "i1");

    private static AgentBatch Batch(long sequence, long atMs, params PathSite[] paths) => new("edge-1", sequence, atMs, [], [], [], 0, 0, Paths: paths);

    private static PathSite Site(string function, uint netns, long other, params StackPath[] top) =>
        new($"{function}+0x10", function, top.Sum(p => p.Drops) + other, top, other, netns);

    private static StackPath Path(string caller, long drops) => new(["udp_rcv+0x10", $"{caller}+0x4"], drops);

    [Fact]
    public async Task A_hosts_paths_add_up_over_the_window_by_site_and_namespace_and_the_rest_is_other()
    {
        var paths = new LivePaths(new FixedClock(Now));
        var ct = Xunit.TestContext.Current.CancellationToken;
        var at = Now.ToUnixTimeMilliseconds();
        await paths.OnBatchAsync(Hello, Batch(1, at - 90_000, Site("udp_rcv", 7, 2, Path("a", 5), Path("b", 1))), ct);
        await paths.OnBatchAsync(Hello, Batch(2, at - 1_000, Site("udp_rcv", 7, 0, Path("b", 9), Path("c", 1), Path("d", 1), Path("e", 1), Path("f", 1), new StackPath([], 1, "ENOMEM")),
            Site("tcp_rcv", 8, 0, Path("a", 3))), ct);
        await paths.OnBatchAsync(Hello, Batch(3, at - 20 * 60_000, Site("udp_rcv", 7, 0, Path("z", 50))), ct);

        var window = paths.Top("edge-1", TimeSpan.FromMinutes(5));

        Assert.Equal([("udp_rcv+0x10", 7u, 22L), ("tcp_rcv+0x10", 8u, 3L)], window.Select(s => (s.Site, s.Netns, s.Drops)));
        var udp = window[0];
        Assert.Equal([10L, 5, 1, 1, 1], udp.Top.Select(p => p.Drops));
        Assert.Equal(["b+0x4", "a+0x4"], udp.Top.Take(2).Select(p => p.Frames[1]));
        Assert.Equal(udp.Drops, udp.Top.Sum(p => p.Drops) + udp.Other);
        Assert.Equal([8u], paths.Top("edge-1", TimeSpan.FromMinutes(5), netns: 8).Select(s => s.Netns));
        Assert.Single(paths.Top("edge-1", TimeSpan.FromMinutes(5), sites: 1));
        Assert.Empty(paths.Top("other", TimeSpan.FromMinutes(5)));
    }
}
