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

    /// <summary>DropBoard's own session file of one host (h1, edge-1, kernel 6.18.0), its drops and counters as JSON array items.</summary>
    public static StringContent OneHostSessionFile(string name, string source, long startMs, long stopMs, string drops, string counters) => new($$"""
        {"format":"dropboard-session","version":1,"name":"{{name}}","origin":"live","startedMs":{{startMs}},"stoppedMs":{{stopMs}},"notes":"",
         "hosts":[{"hostId":"h1","hostName":"edge-1","kernel":"6.18.0","source":"{{source}}","bucketMs":10,"lostRecords":0,
           "drops":[{{drops}}],
           "counters":[{{counters}}],
           "samples":[]}],
         "gaps":[]}
        """);

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

    /// <param name="ns">Only what the bpf source recorded in this namespace (and what other sources recorded, which names none).</param>
    public static async Task<Dictionary<string, long>> SitesAsync(WebAppProcess app, long id, NetNamespace? ns = null) =>
        (await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/sites")).EnumerateArray().Where(s => In(s, ns))
            .GroupBy(s => $"{s.GetProperty("site").GetString()} {s.GetProperty("reason").GetString() ?? "-"}")
            .ToDictionary(g => g.Key, g => g.Sum(s => s.GetProperty("count").GetInt64()));

    /// <param name="ns">Only the counters read in this namespace (the bpf source reads them per namespace), and those that name none.</param>
    public static async Task<Dictionary<string, long>> CountersAsync(WebAppProcess app, long id, NetNamespace? ns = null) =>
        (await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{id}/counters")).EnumerateArray().Where(c => In(c, ns))
            .GroupBy(c => c.GetProperty("name").GetString()!)
            .ToDictionary(g => g.Key, g => g.Sum(c => c.GetProperty("delta").GetInt64()));

    private static bool In(JsonElement entry, NetNamespace? ns) =>
        ns is null || !entry.TryGetProperty("netns", out var netns) || netns.GetUInt32() == ns.Inode;
}
