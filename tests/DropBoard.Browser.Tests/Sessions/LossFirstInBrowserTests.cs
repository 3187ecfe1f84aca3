using System.Text;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.TestKit;
using Microsoft.Playwright;

namespace DropBoard.Browser.Tests.Sessions;

/// <summary>
/// Loss first: on a session page the loss counter comes before traffic counters (folded away), a count read against
/// a counter is exact on both sides (1,599 beside +1,599, not 1.6k), and AF_UNIX frees wait behind a switch that
/// every panel follows, Explain included, and that a reload keeps.
/// </summary>
public sealed class LossFirstInBrowserTests
{
    private const string Dropwatch = """
        dropwatch> start
        1599 drops at udp_queue_rcv_skb+218 (0xffffffff81538c78)
        40 drops at unix_stream_read_generic+1c4 (0xffffffff815a01c4)
        """;

    // Received, sent and the receive errors, as netstat -su prints them: InErrors +1599, received +2000.
    private const string Before = "Udp:\n    1000 packets received\n    500 packet receive errors\n    900 packets sent\n";
    private const string After = "Udp:\n    3000 packets received\n    2099 packet receive errors\n    1900 packets sent\n";

    [Fact]
    public async Task Loss_counters_lead_counts_are_exact_and_unix_socket_frees_wait_behind_a_switch()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        using var form = new MultipartFormDataContent
        {
            { new StringContent(Dropwatch, Encoding.UTF8), "file", "dropwatch.txt" },
            { new StringContent(Before, Encoding.UTF8), "netstatBefore", "before.txt" },
            { new StringContent(After, Encoding.UTF8), "netstatAfter", "after.txt" },
        };
        using var response = await app.Http.PostAsync("api/import?format=dropwatch&name=loss%20first", form);
        response.EnsureSuccessStatusCode();
        var id = (await System.Net.Http.Json.HttpContentJsonExtensions.ReadFromJsonAsync<System.Text.Json.JsonElement>(response.Content)).GetProperty("sessionId").GetInt64();
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.GotoAsync($"sessions/{id}");
        await page.Locator("[data-interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached, Timeout = 30_000 });

        var counters = page.Locator("section.counters");
        await Assertions.Expect(counters.Locator("table.loss tr").First).ToHaveAttributeAsync("data-counter", "Udp.InErrors");
        await Assertions.Expect(counters.Locator("table.loss tr[data-counter='Udp.InErrors'] td.num")).ToHaveTextAsync("+1,599");
        await Assertions.Expect(counters.Locator("table.traffic tr[data-counter='Udp.InDatagrams']")).ToBeHiddenAsync();
        await Assertions.Expect(page.Locator("button.row[data-function='udp_queue_rcv_skb'] .count")).ToHaveTextAsync("1,599");

        await Assertions.Expect(page.Locator("button.row[data-function='unix_stream_read_generic']")).ToHaveCountAsync(0);
        var explain = page.GetByRole(AriaRole.Region, new() { Name = "Explain" });
        await Assertions.Expect(explain.Locator("[data-headline]")).ToBeVisibleAsync();
        await Assertions.Expect(explain).Not.ToContainTextAsync("unix_stream_read_generic");
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "show 1 non-network function" }).CheckAsync();
        await Assertions.Expect(page.Locator("button.row[data-function='unix_stream_read_generic'] .count")).ToHaveTextAsync("40");
        // The switch is part of the page's one view request: Explain follows it, and so does a reload.
        await Assertions.Expect(explain.Locator("li.verdict[data-subject='unix_stream_read_generic']")).ToContainTextAsync("40 drops");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(@"nonnetwork=true"));
        await page.ReloadAsync();
        await page.Locator("[data-interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached, Timeout = 30_000 });
        await Assertions.Expect(page.Locator("button.row[data-function='unix_stream_read_generic'] .count")).ToHaveTextAsync("40");
        await Assertions.Expect(page.GetByRole(AriaRole.Checkbox, new() { Name = "show 1 non-network function" })).ToBeCheckedAsync();
        await Chromium.ScreenshotAsync(page, "session-loss-first");
    }
}
