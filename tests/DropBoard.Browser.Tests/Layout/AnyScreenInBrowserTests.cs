using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using Microsoft.Playwright;
using static DropBoard.Browser.Tests.Infrastructure.TestPages;

namespace DropBoard.Browser.Tests.Layout;

/// <summary>
/// Any screen, any page: at 390 px (a phone) no page is wider than the screen (tables scroll inside their panels)
/// and the menu folds; a function has one colour on every page; chart tooltips list what is not zero, biggest first.
/// </summary>
public sealed class AnyScreenInBrowserTests
{
    private const string Token = "any-screen-test-token";

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    [Fact]
    public async Task Every_page_fits_a_390_px_phone_and_a_function_keeps_its_colour_across_pages()
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await using var agent = await TestAgent.ConnectAsync(app, Token);
        var hello = new AgentHello("phone-host", "phone-host", "6.18.0", "tracepoint", "test", 10, "run-1");
        await TestAgent.AcceptedAsync(agent, hello, new AgentBatch(hello.HostId, 1, Now,
            [new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", Now / 10 * 10, 7, 0x0800)],
            [new CounterDelta("Udp.RcvbufErrors", 7, Now), new CounterDelta("Udp.InErrors", 7, Now)], [], 0, 0));
        var a = await ImportFileAsync(app, "dropwatch", Fixture("seed-rhel7", "dropwatch-session.txt"), "founding case with a rather long name to wrap");
        var b = await ImportFileAsync(app, "perf-script", Fixture("perf-script-kfree_skb-6.18.txt"), "on 6.18");
        using var saved = await app.Http.PostAsJsonAsync("api/investigations", new { title = "TPROXY loss", notes = "`udp_queue_rcv_skb+0x218` **174**", sessions = new[] { a, b } });
        var slug = (await saved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("slug").GetString()!;
        await using var chromium = await Chromium.LaunchAsync();

        var pages = new[] { "", "hosts/phone-host", "sessions", $"sessions/{a}", $"sessions/{b}", $"compare?a={a}&b={b}", $"i/{slug}", "investigations", "admin" };
        foreach (var path in pages)
        {
            var page = await chromium.NewPageAsync(app.BaseAddress, width: 390);
            await page.GotoAsync(path);
            await WaitForCircuitAsync(page);
            if (await page.Locator(".chart .plot").CountAsync() > 0)
                await page.Locator(".chart .apexcharts-canvas").First.WaitForAsync(new() { Timeout = 30_000 });
            var width = await page.EvaluateAsync<int>("document.scrollingElement.scrollWidth");
            await Chromium.ScreenshotAsync(page, $"phone-{(path.Length == 0 ? "hosts" : path.Split('?')[0].Replace('/', '-'))}");
            Assert.True(width <= 390, $"/{path} is {width} px wide on a 390 px screen");
            await page.Context.CloseAsync();
        }

        // The menu folds on a phone and opens on request.
        var phone = await chromium.NewPageAsync(app.BaseAddress, width: 390);
        await phone.GotoAsync("sessions");
        await Assertions.Expect(phone.GetByRole(AriaRole.Link, new() { Name = "Investigations" })).ToBeHiddenAsync();
        await phone.Locator("label.menu-button").ClickAsync();
        await Assertions.Expect(phone.GetByRole(AriaRole.Link, new() { Name = "Investigations" })).ToBeVisibleAsync();

        // udp_queue_rcv_one_skb: one colour live, recorded and in an investigation; __udp4_lib_rcv another.
        var desktop = await chromium.NewPageAsync(app.BaseAddress);
        var colour = Rgb(DropBoard.Web.Components.Charts.FunctionColours.Of("udp_queue_rcv_one_skb"));
        // The live page over its 15-minute window: on a loaded machine the pages above can take longer than a minute.
        foreach (var path in new[] { "hosts/phone-host?window=900", $"sessions/{b}", $"i/{slug}" })
        {
            await desktop.GotoAsync(path);
            await Assertions.Expect(desktop.Locator("button.row[data-function='udp_queue_rcv_one_skb'] .bar").First).ToHaveCSSAsync("background-color", colour, new() { Timeout = 30_000 });
        }
        await Assertions.Expect(desktop.Locator("button.row[data-function='__udp4_lib_rcv'] .bar").First).Not.ToHaveCSSAsync("background-color", colour);
        Assert.True(DropBoard.Web.Components.Charts.FunctionColours.Count >= 10);
    }

    [Fact]
    public async Task Chart_tooltips_list_the_series_that_are_not_zero_biggest_first()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.GotoAsync("sessions");
        await WaitForCircuitAsync(page);
        await page.EvaluateAsync("""
            async () => {
                const chart = await import(new URL('Components/Charts/TimeSeriesChart.razor.js', document.baseURI).href);
                const plot = document.createElement('div');
                plot.className = 'tooltip-plot';
                document.body.append(plot);
                const now = Date.now();
                const points = values => values.map((v, s) => [now - (3 - s) * 1000, v]);
                await chart.render(plot, { kind: 'line', stacked: false, yTitle: 'drops', height: 240, zoom: false, empty: '' }, [
                    { name: 'small', color: '#2563eb', data: points([1, 1, 1, 1]) },
                    { name: 'never', color: '#16a34a', data: points([0, 0, 0, 0]) },
                    { name: 'big', color: '#dc2626', data: points([5, 5, 5, 5]) },
                ], { min: null, max: null, utc: true, title: 'UTC' });
            }
            """);
        var plot = page.Locator(".tooltip-plot");
        await plot.Locator(".apexcharts-grid").HoverAsync(new() { Force = true });
        await Assertions.Expect(plot.Locator(".apexcharts-tooltip-text-y-label")).ToHaveTextAsync(["big: ", "small: "], new() { Timeout = 30_000 });
        await Assertions.Expect(plot.Locator(".apexcharts-tooltip-title")).ToHaveTextAsync(new System.Text.RegularExpressions.Regex(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$"));
    }

    private static string Rgb(string hex) => $"rgb({Convert.ToInt32(hex[1..3], 16)}, {Convert.ToInt32(hex[3..5], 16)}, {Convert.ToInt32(hex[5..7], 16)})";
}
