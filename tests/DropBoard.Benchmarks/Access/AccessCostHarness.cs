using System.Diagnostics;
using System.Net.Http.Headers;
using DropBoard.TestKit;

namespace DropBoard.Benchmarks.Access;

/// <summary>
/// What sign-in costs an API request: two real dashboards on loopback, one open (no authentication, the local
/// start) and one behind sign-in answering to an API token, asked the same <c>GET /api/sessions</c> in turn, one
/// request at a time. Prints each one's p50 and p99 and the ratio of the p50s.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- access [requests]</c>.
/// </summary>
internal static class AccessCostHarness
{
    public static async Task<int> RunAsync(string[] args)
    {
        var requests = args.Length > 1 ? int.Parse(args[1]) : 4000;
        await using var open = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        var db = WebAppProcess.NewDatabasePath();
        var token = WebAppProcess.NewSecret(db, "tokens", "add", "bench", "--role", "viewer");
        await using var signedIn = await WebAppProcess.StartAsync($"DropBoard:Database={db}", "DropBoard:RequireSignIn=true", "DropBoard:EmbeddedAgent=false");
        signedIn.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        var withoutAuth = new List<double>();
        var withAuth = new List<double>();
        for (var i = 0; i < requests + 200; i++)
        {
            var a = await TimeAsync(open.Http);
            var b = await TimeAsync(signedIn.Http);
            if (i < 200) continue; // warm-up: JIT, connection pools, the credential cache
            withoutAuth.Add(a);
            withAuth.Add(b);
        }
        Console.WriteLine($"GET /api/sessions, {requests} requests each, alternated, one at a time:");
        Console.WriteLine($"  open (no authentication)  p50 {P(withoutAuth, 50):0.000} ms  p99 {P(withoutAuth, 99):0.000} ms");
        Console.WriteLine($"  API token (viewer)        p50 {P(withAuth, 50):0.000} ms  p99 {P(withAuth, 99):0.000} ms");
        Console.WriteLine($"  ratio of p50s (token / open): {P(withAuth, 50) / P(withoutAuth, 50):0.00}x");
        return 0;
    }

    private static async Task<double> TimeAsync(HttpClient http)
    {
        var clock = Stopwatch.StartNew();
        using var response = await http.GetAsync("api/sessions");
        response.EnsureSuccessStatusCode();
        await response.Content.ReadAsByteArrayAsync();
        return clock.Elapsed.TotalMilliseconds;
    }

    private static double P(List<double> values, int percentile)
    {
        var sorted = values.Order().ToList();
        return sorted[Math.Min(sorted.Count - 1, sorted.Count * percentile / 100)];
    }
}
