using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using Microsoft.Playwright;
using static DropBoard.Browser.Tests.Infrastructure.TestPages;

namespace DropBoard.Browser.Tests.Navigation;

/// <summary>
/// Finding one's way: live filters and window in the URL survive a reload; investigations are listed (page and
/// API) and linked both ways with their sessions; pages that do not exist answer 404; the favicon is an SVG.
/// </summary>
public sealed class NavigationInBrowserTests
{
    private const string Token = "navigation-test-token";

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    [Fact]
    public async Task Live_filters_and_window_survive_a_reload()
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await using var agent = await TestAgent.ConnectAsync(app, Token);
        var hello = new AgentHello("nav-host", "nav-host", "6.18.0", "tracepoint", "test", 10, "run-1");
        await TestAgent.AcceptedAsync(agent, hello, new AgentBatch(hello.HostId, 1, Now,
            [
                new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", Now / 10 * 10, 7, 0x0800),
                new DropBucket("tcp_v4_rcv+0x77", "tcp_v4_rcv", "NO_SOCKET", Now / 10 * 10, 3, 0x0800),
            ], [], [], 0, 0));
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.GotoAsync("hosts/nav-host");
        await WaitForCircuitAsync(page);
        await Assertions.Expect(page.Locator("button.row")).ToHaveCountAsync(2, new() { Timeout = 30_000 });

        var filters = page.GetByRole(AriaRole.Region, new() { Name = "Filters" });
        await filters.GetByRole(AriaRole.Combobox, new() { Name = "Reason" }).SelectOptionAsync("SOCKET_RCVBUFF");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(@"reason=SOCKET_RCVBUFF"));
        await filters.GetByRole(AriaRole.Combobox, new() { Name = "Window" }).SelectOptionAsync("300");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(@"window=300"));
        await filters.GetByRole(AriaRole.Textbox, new() { Name = "Site" }).FillAsync("udp");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(@"hosts/nav-host\?.*site=udp"));
        Assert.Contains("reason=SOCKET_RCVBUFF", page.Url);
        Assert.Contains("window=300", page.Url);

        await page.ReloadAsync();
        await WaitForCircuitAsync(page);
        await Assertions.Expect(filters.GetByRole(AriaRole.Textbox, new() { Name = "Site" })).ToHaveValueAsync("udp");
        await Assertions.Expect(filters.GetByRole(AriaRole.Combobox, new() { Name = "Reason" })).ToHaveValueAsync("SOCKET_RCVBUFF");
        await Assertions.Expect(filters.GetByRole(AriaRole.Combobox, new() { Name = "Window" })).ToHaveValueAsync("300");
        await Assertions.Expect(page.Locator("button.row")).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator("button.row")).ToHaveAttributeAsync("data-function", "udp_queue_rcv_one_skb");
        await Chromium.ScreenshotAsync(page, "live-filters-after-reload");
    }

    [Fact]
    public async Task Investigations_are_listed_and_linked_both_ways_and_missing_pages_answer_404()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        var created = await app.Http.PostAsJsonAsync("api/sessions", new { name = "linked <b>session</b>" });
        var session = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        (await app.Http.PostAsync($"api/sessions/{session}/stop", null)).EnsureSuccessStatusCode();
        var other = (await (await app.Http.PostAsJsonAsync("api/sessions", new { name = "unlinked" })).Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        using var saved = await app.Http.PostAsJsonAsync("api/investigations", new { title = "why <i>udp</i> drops", notes = "", sessions = new[] { session } });
        var slug = (await saved.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("slug").GetString()!;

        var all = await app.Http.GetFromJsonAsync<JsonElement>("api/investigations");
        Assert.Equal(slug, all.EnumerateArray().Single().GetProperty("slug").GetString());
        Assert.Equal(1, (await app.Http.GetFromJsonAsync<JsonElement>($"api/investigations?session={session}")).GetArrayLength());
        Assert.Equal(0, (await app.Http.GetFromJsonAsync<JsonElement>($"api/investigations?session={other}")).GetArrayLength());

        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.GotoAsync("investigations");
        await WaitForCircuitAsync(page);
        var row = page.Locator($"tr[data-slug='{slug}']");
        await Assertions.Expect(row.GetByRole(AriaRole.Link, new() { Name = "why <i>udp</i> drops" })).ToHaveAttributeAsync("href", $"i/{slug}");
        await row.GetByRole(AriaRole.Link, new() { Name = "linked <b>session</b>" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex($"sessions/{session}$"));
        // The address changes before the page does: the list (which links the investigation too) is still there for
        // a moment, so the session page's own heading is waited for before its link is clicked.
        await Assertions.Expect(page.Locator("h1")).ToContainTextAsync("linked <b>session</b>", new() { Timeout = 30_000 });
        await page.GetByRole(AriaRole.Link, new() { Name = "why <i>udp</i> drops" }).ClickAsync();
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("why <i>udp</i> drops", new() { Timeout = 30_000 });
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Copy link" })).ToBeVisibleAsync();
        await Chromium.ScreenshotAsync(page, "investigation-from-list");

        foreach (var missing in new[] { "sessions/999", $"i/{new string('A', 22)}", "no-such-page" })
        {
            using var response = await app.Http.GetAsync(missing);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"/{missing}: {(int)response.StatusCode}");
        }
        using var icon = await app.Http.GetAsync("favicon.svg");
        Assert.Equal("image/svg+xml", icon.Content.Headers.ContentType?.MediaType);
    }
}
