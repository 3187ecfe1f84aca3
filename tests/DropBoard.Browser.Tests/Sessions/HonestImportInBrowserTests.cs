using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.TestKit;
using Microsoft.Playwright;
using static DropBoard.Browser.Tests.Infrastructure.TestPages;

namespace DropBoard.Browser.Tests.Sessions;

/// <summary>
/// A <c>dropwatch</c> terminal has no timestamps. Imported from the page (with its name, kernel and netstat texts),
/// the founding case shows its counts and says it has no times: no duration, no rates, no drops over time, no
/// lead/lag. Given a duration at import, the same counts get rates over that duration, and only then.
/// </summary>
public sealed class HonestImportInBrowserTests
{
    [Fact]
    public async Task A_dropwatch_terminal_imported_from_the_page_shows_counts_and_no_invented_times()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.GotoAsync("sessions");
        await WaitForCircuitAsync(page);

        var import = page.GetByRole(AriaRole.Region, new() { Name = "Import" });
        await import.GetByLabel("File", new() { Exact = true }).SetInputFilesAsync(Fixture("seed-rhel7", "dropwatch-session.txt"));
        await import.GetByLabel("netstat -su before").SetInputFilesAsync(Fixture("seed-rhel7", "netstat-su-before.txt"));
        await import.GetByLabel("netstat -su after").SetInputFilesAsync(Fixture("seed-rhel7", "netstat-su-after.txt"));
        await import.GetByRole(AriaRole.Textbox, new() { Name = "Name" }).FillAsync("TPROXY <b>loss</b>");
        await import.GetByRole(AriaRole.Textbox, new() { Name = "Kernel" }).FillAsync("3.10.0-1160.el7.x86_64");
        await import.GetByRole(AriaRole.Textbox, new() { Name = "Kernel" }).PressAsync("Tab");
        await import.GetByRole(AriaRole.Button, new() { Name = "Import" }).ClickAsync();

        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("TPROXY <b>loss</b>");
        await WaitForCircuitAsync(page);
        await Assertions.Expect(page.Locator(".badges")).ToContainTextAsync("no timestamps");
        await Assertions.Expect(page.Locator(".badges")).ToContainTextAsync("imported ");
        await Assertions.Expect(page.Locator(".badges")).Not.ToContainTextAsync("lasted");
        await Assertions.Expect(page.Locator("p.no-timestamps")).ToContainTextAsync("no rates");
        // Exact counts, read off the terminal by hand: 2 + 474 + 6 at net_tx_action, 174 at udp_queue_rcv_skb.
        await Assertions.Expect(page.Locator("button.row[data-function='net_tx_action']")).ToHaveAttributeAsync("data-count", "482");
        await Assertions.Expect(page.Locator("button.row[data-function='udp_queue_rcv_skb']")).ToHaveAttributeAsync("data-count", "174");
        Assert.Equal(0, await page.Locator("button.row .rate").CountAsync());
        Assert.Equal(0, await page.GetByRole(AriaRole.Region, new() { Name = "Drops over time" }).CountAsync());
        await Assertions.Expect(page.Locator("section.counters tr[data-counter='Udp.InErrors']")).ToContainTextAsync("+174");
        var text = await page.Locator("main").InnerTextAsync();
        Assert.DoesNotContain("precede", text);
        Assert.DoesNotContain("burst together", text);
        await Chromium.ScreenshotAsync(page, "import-no-timestamps");

        var id = long.Parse(new Uri(page.Url).Segments[^1]);
        var session = await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}");
        Assert.False(session.GetProperty("hasTimestamps").GetBoolean());
        Assert.Equal(session.GetProperty("startedMs").GetInt64(), session.GetProperty("stoppedMs").GetInt64());
        Assert.Equal("3.10.0-1160.el7.x86_64", session.GetProperty("hosts")[0].GetProperty("kernel").GetString());

        await page.GotoAsync("sessions");
        await WaitForCircuitAsync(page);
        var row = page.Locator($"tr[data-session='{id}']");
        await Assertions.Expect(row).ToContainTextAsync("no timestamps");
        await Assertions.Expect(row.Locator("td.num").First).ToHaveTextAsync("—");
    }

    [Fact]
    public async Task A_duration_given_at_import_gives_rates_over_that_duration_and_nothing_over_time()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        var content = new ByteArrayContent(await File.ReadAllBytesAsync(Fixture("seed-rhel7", "dropwatch-session.txt")));
        using var response = await app.Http.PostAsync("api/import?format=dropwatch&name=timed%20by%20hand&duration=20", content);
        response.EnsureSuccessStatusCode();
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessionId").GetInt64();

        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.GotoAsync($"sessions/{id}");
        await WaitForCircuitAsync(page);
        await Assertions.Expect(page.Locator(".badges")).ToContainTextAsync("no timestamps");
        await Assertions.Expect(page.Locator(".badges")).ToContainTextAsync("lasted 20 s (given at import)");
        // 174 drops over the 20 s given: 8.7 a second; 482 over 20 s: 24.
        await Assertions.Expect(page.Locator("button.row[data-function='udp_queue_rcv_skb'] .rate")).ToHaveTextAsync("8.7/s");
        await Assertions.Expect(page.Locator("button.row[data-function='net_tx_action'] .rate")).ToHaveTextAsync("24/s");
        Assert.Equal(0, await page.GetByRole(AriaRole.Region, new() { Name = "Drops over time" }).CountAsync());

        // A file with its own times takes no duration; a duration that is not one is refused by name.
        using var perf = await app.Http.PostAsync("api/import?format=perf-script&duration=20", new ByteArrayContent(await File.ReadAllBytesAsync(Fixture("perf-script-kfree_skb-6.18.txt"))));
        Assert.Equal(System.Net.HttpStatusCode.BadRequest, perf.StatusCode);
        Assert.Contains("duration: only a capture without timestamps", await perf.Content.ReadAsStringAsync());
        using var bad = await app.Http.PostAsync("api/import?format=dropwatch&duration=soon", new ByteArrayContent(await File.ReadAllBytesAsync(Fixture("seed-rhel7", "dropwatch-session.txt"))));
        Assert.Contains("duration: 'soon' is not a number of seconds", await bad.Content.ReadAsStringAsync());
    }
}
