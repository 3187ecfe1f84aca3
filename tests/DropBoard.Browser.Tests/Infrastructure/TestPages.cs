using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.TestKit;
using Microsoft.Playwright;

namespace DropBoard.Browser.Tests.Infrastructure;

/// <summary>What most browser tests do first: find a fixture, import it through the API, wait for a page's circuit.</summary>
public static class TestPages
{
    public static string Fixture(params string[] path) => Path.Combine([AppContext.BaseDirectory, "Fixtures", .. path]);

    /// <summary>Until the page's circuit is live (<c>InteractiveMarker</c>): before that, clicks and inputs go nowhere.</summary>
    public static Task WaitForCircuitAsync(IPage page) =>
        page.Locator("[data-interactive]").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Attached, Timeout = 30_000 });

    /// <param name="query">More of the import's query, as <c>&amp;kernel=...&amp;duration=3</c>.</param>
    public static async Task<long> ImportAsync(WebAppProcess app, string format, byte[] file, string name, string query = "")
    {
        using var response = await app.Http.PostAsync($"api/import?format={format}&name={Uri.EscapeDataString(name)}{query}", new ByteArrayContent(file));
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessionId").GetInt64();
    }

    public static async Task<long> ImportFileAsync(WebAppProcess app, string format, string path, string name, string query = "") =>
        await ImportAsync(app, format, await File.ReadAllBytesAsync(path), name, query);
}
