using System.Net.Http.Json;
using System.Text.Json;

namespace DropBoard.TestKit;

/// <summary>What the tests read from the live JSON API, as a script would.</summary>
public static class LiveApiReads
{
    public static async Task<string> FirstHostAsync(WebAppProcess app)
    {
        for (var i = 0; i < 100; i++)
        {
            var hosts = await app.Http.GetFromJsonAsync<JsonElement>("api/hosts");
            if (hosts.GetArrayLength() > 0) return hosts[0].GetProperty("hostId").GetString()!;
            await Task.Delay(200);
        }
        throw new TimeoutException($"no agent ever reported:\n{app.Log}");
    }

    /// <summary>Drops for a reason over the last ten minutes; 0 while the host has not reported (404).</summary>
    public static async Task<long> ReasonCountAsync(WebAppProcess app, string host, string reason)
    {
        using var response = await app.Http.GetAsync($"api/live/sites?host={host}&seconds=600");
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return 0;
        response.EnsureSuccessStatusCode();
        var sites = await response.Content.ReadFromJsonAsync<JsonElement>();
        return sites.EnumerateArray().Where(s => s.GetProperty("reason").GetString() == reason).Sum(s => s.GetProperty("count").GetInt64());
    }

    /// <summary>Polls until the count reaches <paramref name="expected"/> (or the time is up) and returns the last count.</summary>
    public static async Task<long> WaitForReasonCountAsync(WebAppProcess app, string host, string reason, long expected, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(10));
        long count;
        while ((count = await ReasonCountAsync(app, host, reason)) < expected && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        return count;
    }

    /// <summary>The sum of one counter's deltas over the last ten minutes; 0 while the host has not reported.</summary>
    public static async Task<long> CounterSumAsync(WebAppProcess app, string host, string counter)
    {
        using var response = await app.Http.GetAsync($"api/live/counters?host={host}&seconds=600");
        if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return 0;
        response.EnsureSuccessStatusCode();
        var counters = await response.Content.ReadFromJsonAsync<JsonElement>();
        return counters.EnumerateArray().Where(c => c.GetProperty("name").GetString() == counter).Sum(c => c.GetProperty("delta").GetInt64());
    }

    /// <summary>Polls until the counter's sum reaches <paramref name="expected"/> (or the time is up) and returns the last sum.</summary>
    public static async Task<long> WaitForCounterSumAsync(WebAppProcess app, string host, string counter, long expected, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(10));
        long sum;
        while ((sum = await CounterSumAsync(app, host, counter)) < expected && DateTime.UtcNow < deadline)
            await Task.Delay(200);
        return sum;
    }
}
