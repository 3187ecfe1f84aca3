using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.TestKit;
using Microsoft.Playwright;

namespace DropBoard.Benchmarks.Live;

/// <summary>
/// Drop-to-screen latency under a steady flood: bursts of real receive-buffer drops in a network namespace,
/// five a second, captured by the dashboard's embedded agent and shown in a real Chromium. For each burst,
/// the time from the moment its drops were made (the kernel timestamps them as they happen) to the moment the
/// histogram's count in the browser's DOM reached the new total; baseline: the same to the JSON API.
/// Needs root. Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- latency [seconds]</c>.
/// </summary>
internal static class LatencyHarness
{
    private const string Row = "button.row[data-function^='udp_queue_rcv']";

    public static async Task<int> RunAsync(string[] args)
    {
        var seconds = args.Length > 1 ? double.Parse(args[1]) : 20;
        using var ns = NetNamespace.Create("dblat");
        await using var app = await WebAppProcess.StartAsync($"DropBoard:EmbeddedAgentNetNamespace={ns.Name}");
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.GotoAsync("");
        await page.Locator(".host-card").First.WaitForAsync(new LocatorWaitForOptions { Timeout = 30_000 });
        var host = await page.Locator(".host-card").First.GetAttributeAsync("data-host");
        await page.GotoAsync($"hosts/{host}");
        await page.Locator("[data-interactive]").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Attached });
        // Every change of the row's count, with the browser's wall clock, as the DOM takes it, and the page's hop stamps:
        // when the store took the newest batch and when the page read the store (server clock, the same machine's).
        await page.EvaluateAsync("""
            () => {
              window.__counts = [];
              const record = () => { const r = document.querySelector("button.row[data-function^='udp_queue_rcv']");
                                     const h = document.querySelector("h1[data-refreshed-ms]");
                                     if (r && h) window.__counts.push([Date.now(), Number(r.dataset.count), Number(h.dataset.batchMs), Number(h.dataset.refreshedMs)]); };
              new MutationObserver(record).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-count'] });
            }
            """);

        var bursts = new List<(long MadeMs, long Total)>();
        var api = new List<double>();
        long total = 0;
        var baseline = ns.Snmp("Udp", "RcvbufErrors");
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            var next = clock.Elapsed + TimeSpan.FromMilliseconds(200);
            UdpTraffic.OverflowReceiveBuffer(ns, 300, port: 7401);
            var made = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            total = ns.Snmp("Udp", "RcvbufErrors") - baseline;
            bursts.Add((made, total));
            // Baseline: the same drops through the JSON API, polled every 5 ms, for every fifth burst.
            if (bursts.Count % 5 == 0) api.Add(await UntilApiShowsAsync(app, host!, total, made));
            var wait = next - clock.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait);
        }
        await Task.Delay(3000);

        var counts = (await page.EvaluateAsync<JsonElement>("() => window.__counts")).EnumerateArray()
            .Select(e => (Ms: e[0].GetInt64(), Count: e[1].GetInt64(), BatchMs: e[2].GetInt64(), RefreshedMs: e[3].GetInt64())).ToList();
        var screen = new List<double>();
        List<double> taken = [], refreshed = [], shownAfter = [];
        var missed = 0;
        foreach (var (madeMs, expected) in bursts)
        {
            var shown = counts.FirstOrDefault(c => c.Count >= expected && c.Ms >= madeMs);
            if (shown == default) missed++;
            else
            {
                screen.Add(shown.Ms - madeMs);
                taken.Add(shown.BatchMs - madeMs);
                refreshed.Add(shown.RefreshedMs - shown.BatchMs);
                shownAfter.Add(shown.Ms - shown.RefreshedMs);
            }
        }
        await Chromium.ScreenshotAsync(page, "latency-harness");

        Console.WriteLine($"{bursts.Count} bursts of receive-buffer drops ({total} drops) over {seconds:0} s, 5 bursts/s; {missed} never shown");
        Console.WriteLine($"{"path",-22} {"n",5} {"p50 ms",8} {"p99 ms",8} {"max ms",8}");
        Print("kernel → browser DOM", screen);
        Print("kernel → JSON API", api);
        Console.WriteLine("hops of kernel → browser DOM:");
        Print("  → store took batch", taken);
        Print("  → page read store", refreshed);
        Print("  → DOM (render, send)", shownAfter);
        Console.WriteLine($"DOM p50 / API p50 = {Percentile(screen, 0.5) / Percentile(api, 0.5):F2}");
        return missed == 0 ? 0 : 1;
    }

    private static async Task<double> UntilApiShowsAsync(WebAppProcess app, string host, long total, long madeMs)
    {
        while (true)
        {
            var sites = await app.Http.GetFromJsonAsync<JsonElement>($"api/live/sites?host={host}&seconds=900&reason=SOCKET_RCVBUFF");
            if (sites.EnumerateArray().Sum(s => s.GetProperty("count").GetInt64()) >= total)
                return DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - madeMs;
            await Task.Delay(5);
        }
    }

    private static void Print(string path, List<double> ms) =>
        Console.WriteLine($"{path,-22} {ms.Count,5} {Percentile(ms, 0.5),8:F0} {Percentile(ms, 0.99),8:F0} {(ms.Count == 0 ? 0 : ms.Max()),8:F0}");

    private static double Percentile(List<double> values, double p)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Min(sorted.Count - 1, Math.Ceiling(p * sorted.Count) - 1)];
    }
}
