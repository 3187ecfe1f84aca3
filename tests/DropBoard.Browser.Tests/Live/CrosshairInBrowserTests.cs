using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using Microsoft.Playwright;

namespace DropBoard.Browser.Tests.Live;

/// <summary>
/// One crosshair across a page's charts: on a live host page, hovering the drops chart at an instant shows the
/// counters chart's crosshair and tooltip at that same instant, wherever along the axis the pointer is.
/// </summary>
public sealed class CrosshairInBrowserTests
{
    private const string Token = "crosshair-test-token";

    [Fact]
    public async Task Hovering_one_chart_shows_the_same_instant_on_the_other()
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await using var agent = await TestAgent.ConnectAsync(app, Token);
        var hello = new AgentHello("crosshair-host", "crosshair-host", "6.18.0", "tracepoint", "test", 10, "run-1");
        await TestAgent.AcceptedAsync(agent, hello, new AgentBatch(hello.HostId, 1, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), [], [], [], 0, 0));
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.GotoAsync("hosts/crosshair-host");
        await TestPages.WaitForCircuitAsync(page);

        // Then fifty seconds up to now (of the page's last minute) of receive-buffer drops, each second's count its own
        // (so a tooltip says which second it is at), and the counter rising by as much in the same second.
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        for (var b = 0; b < 5; b++)
        {
            var seconds = Enumerable.Range(b * 10, 10).Select(i => (Second: now - 50 + i, Count: 10L + i)).ToList();
            await TestAgent.AcceptedAsync(agent, hello, new AgentBatch(hello.HostId, b + 2, seconds[^1].Second * 1000 + 999,
                [.. seconds.Select(s => new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", s.Second * 1000 + 500, s.Count))],
                [.. seconds.Select(s => new CounterDelta("Udp.RcvbufErrors", s.Count, s.Second * 1000 + 900))], [], 0, 0));
        }
        var drops = page.Locator("section[aria-label='Drops over time'] .plot");
        var counters = page.Locator("section[aria-label='Counters over time'] .plot");
        foreach (var plot in new[] { drops, counters })
        {
            await Assertions.Expect(plot).ToHaveAttributeAsync("data-series", "1", new() { Timeout = 30_000 });
            await plot.Locator(".apexcharts-grid").WaitForAsync(new() { Timeout = 30_000 });
        }

        var seen = new List<string>();
        foreach (var at in new[] { 0.4f, 0.8f })
            seen.Add(await HoveredAsync(at));
        Assert.NotEqual(seen[0], seen[1]);

        // A refresh slides each chart's window (a new axis): each keeps its own series, none takes its group's.
        var later = DateTimeOffset.UtcNow.ToUnixTimeSeconds() + 1;
        await TestAgent.AcceptedAsync(agent, hello, new AgentBatch(hello.HostId, 7, later * 1000 + 999,
            [new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", later * 1000 + 500, 40)],
            [new CounterDelta("Udp.RcvbufErrors", 40, later * 1000 + 900)], [], 0, 0));
        foreach (var plot in new[] { drops, counters })
            await Assertions.Expect(plot).ToHaveAttributeAsync("data-updates", new System.Text.RegularExpressions.Regex("^[1-9]"), new() { Timeout = 30_000 });
        var counterGrid = (await counters.Locator(".apexcharts-grid").BoundingBoxAsync())!;
        await page.Mouse.MoveAsync(counterGrid.X + counterGrid.Width * 0.7f, counterGrid.Y + counterGrid.Height / 2);
        foreach (var (plot, name) in new[] { (drops, "udp_queue_rcv_one_skb"), (counters, "Udp.RcvbufErrors") })
            await Assertions.Expect(plot.Locator(".apexcharts-tooltip.apexcharts-active .apexcharts-tooltip-text-y-label")).ToHaveTextAsync([name + ": "]);
        await Chromium.ScreenshotAsync(page, "live-host-one-crosshair");

        // The page re-renders as its window slides: a tooltip read between two renders may have gone. Hover again then;
        // what is asserted must hold in one whole pass.
        async Task<string> HoveredAsync(float at)
        {
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    var box = (await drops.Locator(".apexcharts-grid").BoundingBoxAsync())!;
                    await page.Mouse.MoveAsync(box.X + box.Width * at, box.Y + box.Height / 2);

                    var hovered = drops.Locator(".apexcharts-tooltip.apexcharts-active .apexcharts-tooltip-title");
                    var other = counters.Locator(".apexcharts-tooltip.apexcharts-active .apexcharts-tooltip-title");
                    await Assertions.Expect(hovered).ToBeVisibleAsync(new() { Timeout = 10_000 });
                    await Assertions.Expect(other).ToBeVisibleAsync(new() { Timeout = 10_000 });
                    var instant = await hovered.TextContentAsync(new() { Timeout = 5_000 });
                    Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", instant);
                    await Assertions.Expect(other).ToHaveTextAsync(instant!);
                    // The same second's value on both: the drops and the counter rise of that second.
                    var value = await drops.Locator(".apexcharts-tooltip.apexcharts-active .apexcharts-tooltip-text-y-value").TextContentAsync(new() { Timeout = 5_000 });
                    await Assertions.Expect(counters.Locator(".apexcharts-tooltip.apexcharts-active .apexcharts-tooltip-text-y-value")).ToHaveTextAsync(value!);
                    // And the crosshair drawn at the same place along the axis.
                    var lines = new List<double>();
                    foreach (var plot in new[] { drops, counters })
                    {
                        var crosshair = plot.Locator(".apexcharts-xcrosshairs.apexcharts-active");
                        await Assertions.Expect(crosshair).ToHaveCountAsync(1);
                        var grid = (await plot.Locator(".apexcharts-grid").BoundingBoxAsync())!;
                        var line = (await crosshair.BoundingBoxAsync())!;
                        lines.Add((line.X + line.Width / 2 - grid.X) / grid.Width);
                    }
                    Assert.True(Math.Abs(lines[0] - lines[1]) < 0.02, $"crosshairs at {lines[0]:P1} and {lines[1]:P1} of their plots");
                    return instant!;
                }
                catch (Exception e) when (attempt < 3 && e is System.TimeoutException or PlaywrightException)
                {
                }
            }
        }
    }
}
