using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.TestKit;
using Microsoft.Playwright;
using static DropBoard.Browser.Tests.Infrastructure.TestPages;

namespace DropBoard.Browser.Tests.Sessions;

/// <summary>
/// One clock: two browsers in other zones show the same instant, each in its own zone and naming it; the UTC switch
/// shows it in UTC; the chart's axis names the date and zone and spans seconds, not days, for a capture that lasted
/// milliseconds.
/// </summary>
public sealed class TimeZoneInBrowserTests
{
    [Fact]
    public async Task Browsers_in_two_zones_show_the_same_instant_each_in_its_own_zone()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        using var response = await app.Http.PostAsync("api/import?format=perf-script&name=zones",
            new ByteArrayContent(await File.ReadAllBytesAsync(Fixture("perf-script-kfree_skb-6.18.txt"))));
        response.EnsureSuccessStatusCode();
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessionId").GetInt64();
        var started = (await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}")).GetProperty("startedMs").GetInt64();
        await using var chromium = await Chromium.LaunchAsync();

        var shown = new Dictionary<string, string>();
        foreach (var zone in new[] { "Europe/Berlin", "America/New_York" })
        {
            var page = await chromium.NewPageAsync(app.BaseAddress, timeZone: zone);
            await page.GotoAsync("sessions");
            await Assertions.Expect(page.Locator("p.zone")).ToHaveAttributeAsync("data-zone", zone, new() { Timeout = 30_000 });
            var offset = TimeZoneInfo.FindSystemTimeZoneById(zone).GetUtcOffset(DateTimeOffset.FromUnixTimeMilliseconds(started));
            await Assertions.Expect(page.Locator("p.zone")).ToContainTextAsync($"{zone} (UTC{(offset < TimeSpan.Zero ? "−" : "+")}{offset:hh\\:mm})");
            var time = page.Locator($"tr[data-session='{id}'] time");
            await Assertions.Expect(time).ToHaveTextAsync(In(started, zone));
            shown[zone] = (await time.GetAttributeAsync("datetime"))!;
            await Chromium.ScreenshotAsync(page, $"sessions-in-{zone.Replace('/', '-')}");

            // The switch: the same instant in UTC, saying so.
            await page.GetByRole(AriaRole.Checkbox, new() { Name = "UTC" }).CheckAsync();
            await Assertions.Expect(page.Locator("p.zone strong")).ToHaveTextAsync("UTC");
            await Assertions.Expect(time).ToHaveTextAsync(In(started, "UTC"));
        }
        Assert.Equal(shown["Europe/Berlin"], shown["America/New_York"]);
        Assert.NotEqual(In(started, "Europe/Berlin"), In(started, "America/New_York"));

        // The chart of a capture of milliseconds: the date and zone on the axis, and seconds, not days, along it.
        var detail = await chromium.NewPageAsync(app.BaseAddress, timeZone: "Asia/Tokyo");
        await detail.GotoAsync($"sessions/{id}");
        await Assertions.Expect(detail.Locator("p.zone")).ToHaveAttributeAsync("data-zone", "Asia/Tokyo", new() { Timeout = 30_000 });
        var title = detail.Locator(".apexcharts-xaxis-title");
        await Assertions.Expect(title).ToContainTextAsync($"{In(started, "Asia/Tokyo")[..10]}, Asia/Tokyo (UTC+09:00)");
        // ApexCharts blanks a label that would overlap its neighbour.
        var labels = (await detail.Locator(".apexcharts-xaxis-label").AllTextContentsAsync()).Where(l => l.Trim().Length > 0).ToList();
        Assert.NotEmpty(labels);
        Assert.All(labels, l => Assert.Matches(@"^\d\d:\d\d:\d\d$", l.Trim()));
        await Chromium.ScreenshotAsync(detail, "session-chart-in-tokyo");
    }

    private static string In(long ms, string zone) =>
        TimeZoneInfo.ConvertTime(DateTimeOffset.FromUnixTimeMilliseconds(ms), TimeZoneInfo.FindSystemTimeZoneById(zone))
            .ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);
}
