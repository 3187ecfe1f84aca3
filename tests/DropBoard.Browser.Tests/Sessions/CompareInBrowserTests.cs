using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.TestKit;
using Microsoft.Playwright;
using static DropBoard.Browser.Tests.Infrastructure.TestPages;

namespace DropBoard.Browser.Tests.Sessions;

/// <summary>
/// Compare across kernels in a real Chromium: two sessions picked from the list, rows per function with the offsets
/// of two 3.10 builds paired, the 3.10 and 6.18 names of the UDP receive-queue drop on one row, each side's kernel,
/// a counter one side did not record shown as such, and clear errors for the same or a missing session.
/// </summary>
public sealed class CompareInBrowserTests
{
    // The founding case's receive-queue drop as another 3.10 build places it (another offset), with the same netstat
    // section recorded only for Udp.
    private const string Other310Build = """
        dropwatch> start
        3 drops at net_tx_action+0 (0xffffffff814cf0a0)
        90 drops at udp_queue_rcv_skb+22c (0xffffffff81539a2c)
        """;

    [Fact]
    public async Task Two_sessions_picked_from_the_list_compare_by_function_across_builds_and_kernels()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        var founding = await ImportFileAsync(app, "dropwatch", Fixture("seed-rhel7", "dropwatch-session.txt"), "founding case", "&kernel=3.10.0-1160.el7.x86_64&duration=3");
        var other = await ImportAsync(app, "dropwatch", System.Text.Encoding.UTF8.GetBytes(Other310Build), "another 3.10 build", "&kernel=3.10.0-957.el7.x86_64&duration=2");
        var modern = await ImportFileAsync(app, "perf-script", Fixture("perf-script-kfree_skb-6.18.txt"), "on 6.18", "&kernel=6.18.0");
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);

        // Tick two in the list: the first ticked is A.
        await page.GotoAsync("sessions");
        await WaitForCircuitAsync(page);
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "pick founding case" }).CheckAsync();
        await page.GetByRole(AriaRole.Checkbox, new() { Name = "pick another 3.10 build" }).CheckAsync();
        await page.GetByRole(AriaRole.Button, new() { Name = "Compare the two ticked" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"compare\\?a={founding}&b={other}$"));

        // Two 3.10 builds: +0x218 and +0x22c are one site at another offset, in one function row.
        var udp = page.Locator("table.compare-functions tbody[data-function='udp_queue_rcv_skb']");
        await Assertions.Expect(udp.Locator("tr.offset")).ToHaveCountAsync(1);
        await Assertions.Expect(udp.Locator("tr.offset")).ToHaveAttributeAsync("data-site-a", "udp_queue_rcv_skb+0x218");
        await Assertions.Expect(udp.Locator("tr.offset")).ToHaveAttributeAsync("data-site-b", "udp_queue_rcv_skb+0x22c");
        await Assertions.Expect(udp.Locator("tr.function")).Not.ToContainTextAsync("only in");
        // 174 in 3 s before, 90 in 2 s after: 58/s and 45/s.
        await Assertions.Expect(udp.Locator("tr.function td").Nth(3)).ToHaveTextAsync("58");
        await Assertions.Expect(udp.Locator("tr.function td").Nth(4)).ToHaveTextAsync("45");
        await Assertions.Expect(page.Locator(".side[data-side='A'] .kernel")).ToHaveTextAsync("3.10.0-1160.el7.x86_64");
        await Assertions.Expect(page.Locator(".side[data-side='B'] .kernel")).ToHaveTextAsync("3.10.0-957.el7.x86_64");
        await Chromium.ScreenshotAsync(page, "compare-two-3.10-builds");

        // 3.10 against 6.18: the renamed function pairs, with the commit that renamed it; there is no duration for 6.18's
        // perf capture to lack, so rates stay (the founding case has the 3 s given).
        await page.GotoAsync($"compare?a={founding}&b={modern}");
        await WaitForCircuitAsync(page);
        var renamed = page.Locator("table.compare-functions tbody[data-function='udp_queue_rcv_skb']");
        await Assertions.Expect(renamed).ToHaveAttributeAsync("data-function-b", "udp_queue_rcv_one_skb");
        await Assertions.Expect(renamed.Locator(".badge")).ToHaveTextAsync("renamed in 5.0");
        Assert.Contains("cf329aa42b66", await renamed.Locator(".badge").GetAttributeAsync("title"));
        await Assertions.Expect(renamed.Locator("tr.offset")).ToContainTextAsync("udp_queue_rcv_skb+0x218 ↔ udp_queue_rcv_one_skb+0x437");
        await Assertions.Expect(renamed.Locator("tr.function td").Nth(1)).ToHaveTextAsync("174");
        await Assertions.Expect(renamed.Locator("tr.function td").Nth(2)).ToHaveTextAsync("59");
        await Assertions.Expect(page.Locator(".side[data-side='B'] .kernel")).ToHaveTextAsync("6.18.0");
        await Chromium.ScreenshotAsync(page, "compare-3.10-with-6.18");

        // The same session twice, and a session that does not exist, each say so.
        await page.GotoAsync($"compare?a={founding}&b={founding}");
        await Assertions.Expect(page.Locator("p.error")).ToHaveTextAsync($"A and B are the same session ({founding}): pick another session for B");
        await page.GotoAsync($"compare?a={founding}&b=999");
        await Assertions.Expect(page.Locator("p.error")).ToHaveTextAsync("B: no session 999 (see the sessions list)");
    }

    [Fact]
    public async Task A_counter_one_side_did_not_record_reads_not_recorded_and_a_session_without_duration_has_no_rates()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(await File.ReadAllBytesAsync(Fixture("seed-rhel7", "dropwatch-session.txt"))), "file", "dropwatch.txt" },
            { new ByteArrayContent(await File.ReadAllBytesAsync(Fixture("seed-rhel7", "netstat-su-before.txt"))), "netstatBefore", "before.txt" },
            { new ByteArrayContent(await File.ReadAllBytesAsync(Fixture("seed-rhel7", "netstat-su-after.txt"))), "netstatAfter", "after.txt" },
        };
        using var withCounters = await app.Http.PostAsync("api/import?format=dropwatch&name=with%20netstat", form);
        withCounters.EnsureSuccessStatusCode();
        var a = (await withCounters.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessionId").GetInt64();
        var b = await ImportAsync(app, "dropwatch", System.Text.Encoding.UTF8.GetBytes(Other310Build), "without netstat");
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);

        await page.GotoAsync($"compare?a={a}&b={b}");
        await WaitForCircuitAsync(page);
        var inErrors = page.Locator("table.compare-counters tr[data-counter='Udp.InErrors'] td");
        await Assertions.Expect(inErrors.Nth(1)).ToHaveTextAsync("+174");
        await Assertions.Expect(inErrors.Nth(2)).ToHaveTextAsync("not recorded");
        await Assertions.Expect(page.Locator("p.notice")).ToContainTextAsync("No rates: A and B have no duration");
        Assert.Equal(0, await page.Locator("table.compare-functions th", new() { HasTextString = "/s" }).CountAsync());
    }
}
