using System.Net;
using System.Net.Http.Json;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.TestKit;
using Microsoft.Playwright;

namespace DropBoard.Browser.Tests.Sessions;

/// <summary>An editor renames and deletes a session from its page; a teammate's open /sessions page follows without a reload.</summary>
public sealed class SessionEditInBrowserTests
{
    [Fact]
    public async Task An_editor_renames_and_deletes_a_session_from_its_page_and_an_open_sessions_page_follows()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        var created = await app.Http.PostAsJsonAsync("api/sessions", new { name = "before the fix" });
        var id = (await created.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").GetInt64();
        (await app.Http.PostAsync($"api/sessions/{id}/stop", null)).EnsureSuccessStatusCode();
        await using var chromium = await Chromium.LaunchAsync();
        var list = await chromium.NewPageAsync(app.BaseAddress);
        await list.GotoAsync("sessions");
        await TestPages.WaitForCircuitAsync(list);
        var row = list.Locator($"tr[data-session='{id}']");
        await Assertions.Expect(row).ToContainTextAsync("before the fix");

        var editor = await chromium.NewPageAsync(app.BaseAddress);
        await editor.GotoAsync($"sessions/{id}");
        await TestPages.WaitForCircuitAsync(editor);
        await editor.GetByRole(AriaRole.Button, new() { Name = "Rename", Exact = true }).ClickAsync();
        await editor.GetByLabel("New name").FillAsync("before the <b>rmem_max</b> fix");
        await editor.GetByRole(AriaRole.Button, new() { Name = "Save name" }).ClickAsync();

        await Assertions.Expect(editor.Locator("h1")).ToHaveTextAsync("before the <b>rmem_max</b> fix");
        await Assertions.Expect(row).ToContainTextAsync("before the <b>rmem_max</b> fix", new() { Timeout = 30_000 });
        Assert.Equal(0, await list.Locator("tr b").CountAsync());

        await editor.GetByRole(AriaRole.Button, new() { Name = "Delete", Exact = true }).ClickAsync();
        var confirm = editor.Locator(".confirm");
        await Assertions.Expect(confirm).ToContainTextAsync("for good?");
        await Chromium.ScreenshotAsync(editor, "session-delete-confirm");
        Assert.Equal(HttpStatusCode.OK, (await app.Http.GetAsync($"api/sessions/{id}")).StatusCode);
        await editor.GetByRole(AriaRole.Button, new() { Name = "Delete for good" }).ClickAsync();

        await Assertions.Expect(editor).ToHaveURLAsync(new Uri(app.BaseAddress, "sessions").ToString());
        await Assertions.Expect(row).ToHaveCountAsync(0, new() { Timeout = 30_000 });
        await Assertions.Expect(list.GetByText("No session yet")).ToBeVisibleAsync();
        Assert.Equal(HttpStatusCode.NotFound, (await app.Http.GetAsync($"api/sessions/{id}")).StatusCode);
    }
}
