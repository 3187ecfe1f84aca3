using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.TestKit;

namespace DropBoard.Web.Tests.Sessions;

/// <summary>The session API as a script uses it.</summary>
internal static class SessionApiReads
{
    public static string Fixture(params string[] path) => Path.Combine([AppContext.BaseDirectory, "Fixtures", .. path]);

    public static async Task<long> CreateAsync(WebAppProcess app, string name, params string[] hosts)
    {
        using var response = await app.Http.PostAsJsonAsync("api/sessions", new { name, hosts = hosts.Length == 0 ? null : hosts });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    public static async Task<(System.Net.HttpStatusCode Status, JsonElement Body)> ImportAsync(WebAppProcess app, string format, HttpContent content, string? query = null)
    {
        using var response = await app.Http.PostAsync($"api/import?format={format}{query}", content);
        return (response.StatusCode, await response.Content.ReadFromJsonAsync<JsonElement>());
    }

    public static MultipartFormDataContent Dropwatch(string dropwatch, string? before = null, string? after = null)
    {
        var form = new MultipartFormDataContent { { File(dropwatch), "file", "dropwatch-session.txt" } };
        if (before is not null) form.Add(File(before), "netstatBefore", "before.txt");
        if (after is not null) form.Add(File(after), "netstatAfter", "after.txt");
        return form;
    }

    private static ByteArrayContent File(string path)
    {
        var content = new ByteArrayContent(System.IO.File.ReadAllBytes(path));
        content.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        return content;
    }

    public static async Task<Dictionary<string, long>> SitesAsync(WebAppProcess app, long id) =>
        (await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/sites")).EnumerateArray()
            .GroupBy(s => $"{s.GetProperty("site").GetString()} {s.GetProperty("reason").GetString() ?? "-"}")
            .ToDictionary(g => g.Key, g => g.Sum(s => s.GetProperty("count").GetInt64()));

    public static async Task<Dictionary<string, long>> CountersAsync(WebAppProcess app, long id) =>
        (await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/counters")).EnumerateArray()
            .ToDictionary(c => c.GetProperty("name").GetString()!, c => c.GetProperty("delta").GetInt64());
}
