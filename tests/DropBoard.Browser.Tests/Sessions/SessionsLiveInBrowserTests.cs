using System.Net.Http.Json;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.TestKit;
using Microsoft.Playwright;

namespace DropBoard.Browser.Tests.Sessions;

/// <summary>
/// The session store tells its pages: a session started or stopped elsewhere (the API, an agent, a teammate)
/// shows on an open /sessions page without a reload.
/// </summary>
public sealed class SessionsLiveInBrowserTests
{
    [Fact]
    public async Task A_session_started_and_stopped_through_the_api_shows_on_an_open_sessions_page()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.GotoAsync("sessions");
        await page.Locator("[data-interactive]").WaitForAsync(new() { State = WaitForSelectorState.Attached, Timeout = 30_000 });
        await Assertions.Expect(page.GetByText("No session yet")).ToBeVisibleAsync();

        var created = await app.Http.PostAsJsonAsync("api/sessions", new { name = "started by a script" });
        var id = (await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetInt64();
        var row = page.Locator($"tr[data-session='{id}']");
        await Assertions.Expect(row).ToContainTextAsync("started by a script", new() { Timeout = 30_000 });
        await Assertions.Expect(row).ToContainTextAsync("recording");

        (await app.Http.PostAsync($"api/sessions/{id}/stop", null)).EnsureSuccessStatusCode();
        await Assertions.Expect(row).ToContainTextAsync("stopped", new() { Timeout = 30_000 });
    }
}
