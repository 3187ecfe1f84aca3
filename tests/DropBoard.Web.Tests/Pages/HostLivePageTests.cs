using Microsoft.Extensions.DependencyInjection;
using Bunit;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Components.Pages;
using static DropBoard.Web.Tests.Hub.AgentHubClient;

namespace DropBoard.Web.Tests.Pages;

/// <summary>A live host's filters and window come from the URL and go back into it, so a link or reload shows the same view.</summary>
public sealed class HostLivePageTests : PageTest
{
    [Fact]
    public async Task Filters_and_window_are_read_from_the_url_applied_and_written_back()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 10 * 10;
        await Live.OnBatchAsync(Hello("edge-1"), new AgentBatch("edge-1", 1, now,
            [
                new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", now, 40, 0x0800),
                new DropBucket("tcp_v4_rcv+0x1a", "tcp_v4_rcv", "NO_SOCKET", now, 7, 0x0800),
            ], [], [], 0, 0), Xunit.TestContext.Current.CancellationToken);
        Navigation.NavigateTo($"hosts/edge-1?site=udp_queue&window=300&reason={new string('R', 500)}");
        var page = Render<HostLive>(p => p.Add(x => x.HostId, "edge-1"));

        Assert.Equal("udp_queue", page.Find("input[placeholder='function or offset']").GetAttribute("value"));
        Assert.Equal("300", page.Find("section.controls select").GetAttribute("value"));
        // Too long a filter is cut to the page's bound; nothing matches that reason.
        Assert.Empty(page.FindAll("button.row"));

        page.FindAll("section.controls select")[1].Change("");
        Assert.Equal("hosts/edge-1?site=udp_queue&window=300", Address);
        page.WaitForAssertion(() => Assert.Equal(["udp_queue_rcv_one_skb"], page.FindAll("button.row").Select(r => r.GetAttribute("data-function"))));
        Assert.Equal("40", page.Find("button.row").GetAttribute("data-count"));

        page.Find("input[placeholder='function or offset']").Input("");
        page.Find("section.controls select").Change("60");
        Assert.Equal("hosts/edge-1", Address);
        page.WaitForAssertion(() => Assert.Equal(2, page.FindAll("button.row").Count));
    }

    [Fact]
    public async Task Dropped_flows_show_per_site_with_the_drops_not_sampled_and_every_name_as_text()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 10 * 10;
        var batch = new AgentBatch("edge-2", 1, now, [new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", now, 500, 0x0800, 7, "<b>blue</b>")],
            [], [], 0, 0, Flows: [new FlowSite("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", 12, 488,
                [new DroppedFlow(17, "10.0.0.1", 40000, "fd00::2", 53, 12, 3)], 7, "<b>blue</b>")]);
        await Live.OnBatchAsync(Hello("edge-2"), batch, Xunit.TestContext.Current.CancellationToken);
        await Services.GetRequiredService<DropBoard.Web.Live.LiveFlows>().OnBatchAsync(Hello("edge-2"), batch, Xunit.TestContext.Current.CancellationToken);

        var page = Render<HostLive>(p => p.Add(x => x.HostId, "edge-2"));

        var panel = page.Find("section[aria-label='Dropped flows']");
        Assert.Contains("12 drops sampled, 488 not sampled", panel.TextContent);
        Assert.Equal("udp 10.0.0.1:40000 -> [fd00::2]:53", panel.QuerySelector("td.flow")!.TextContent);
        Assert.Contains("in <b>blue</b>", panel.TextContent);
        Assert.Empty(panel.QuerySelectorAll("b"));
    }

    [Fact]
    public async Task A_sites_paths_show_with_the_drops_each_accounts_for_and_every_frame_as_text()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 10 * 10;
        // The hub refuses a frame that is markup; the page writes frames as text all the same.
        var batch = new AgentBatch("edge-3", 1, now, [new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", now, 500, 0x0800, 7, "blue")],
            [], [], 0, 0, Paths: [new PathSite("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", 500,
                [new StackPath(["udp_queue_rcv_one_skb+0x437", "<b>udp_unicast_rcv_skb</b>+0x74"], 480), new StackPath([], 15, "EEXIST")], 5, 7, "blue")]);
        await Live.OnBatchAsync(Hello("edge-3"), batch, Xunit.TestContext.Current.CancellationToken);
        await Services.GetRequiredService<DropBoard.Web.Live.LivePaths>().OnBatchAsync(Hello("edge-3"), batch, Xunit.TestContext.Current.CancellationToken);

        var page = Render<HostLive>(p => p.Add(x => x.HostId, "edge-3"));

        var panel = page.Find("section[aria-label='Paths to drop sites']");
        Assert.Contains("500 drops, 5 on other paths", panel.TextContent);
        Assert.Equal(["udp_queue_rcv_one_skb+0x437", "<b>udp_unicast_rcv_skb</b>+0x74"], panel.QuerySelectorAll("li.frame").Select(f => f.TextContent));
        Assert.Contains("15 drops with no stack (EEXIST)", panel.TextContent);
        Assert.Empty(panel.QuerySelectorAll("b"));
    }
}
