using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Agent.Uplink;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using DropBoard.Browser.Tests.Infrastructure;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Playwright;

namespace DropBoard.Benchmarks.Live;

/// <summary>
/// Durable delivery under load: simulated agents over real SignalR on loopback into a real dashboard with a real
/// SQLite file, each making a batch every 250 ms with drops at its sites and keeping it until the dashboard takes it
/// (resending on "retry", and after reconnecting a lost connection, as the agent's spool does). As the real agent
/// (<c>AgentOptions.CounterInterval</c>), each samples its 20 counters once a second and sends their rises in the batch
/// after the sample, not in every batch. First a baseline phase with no session recording (the hub
/// acknowledges at once), then the same agents with a session recording every host for the set duration (the hub
/// acknowledges after the commit). Prints per phase: batches made, acknowledged, answered retry, still unacknowledged
/// after a drain, ack latency p50/p99 (and as a ratio to the baseline phase), the web process's CPU; for the recording
/// phase also the drops the session holds against the drops acknowledged (lost or doubled), the web RSS slope (MB/min,
/// least squares over samples every 5 s) and the database size. A Chromium keeps the hosts overview, one host's live
/// view and, while recording, the session's page open throughout, as an operator would; its console errors and any
/// lost circuit (the reconnect dialog) are counted and printed.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- soak [agents] [sites] [minutes]</c>.
/// </summary>
internal static class SoakHarness
{
    private const string Token = "soak";
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    private const long CounterInterval = 1000;
    private static readonly TimeSpan Baseline = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(string[] args)
    {
        var agentCount = args.Length > 1 ? int.Parse(args[1]) : 200;
        var sites = args.Length > 2 ? int.Parse(args[2]) : 200;
        var minutes = args.Length > 3 ? double.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 10;
        var database = WebAppProcess.NewDatabasePath();
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false",
            $"DropBoard:Database={database}", "Logging:LogLevel:Default=Warning");
        var agents = new List<SimulatedAgent>();
        for (var i = 0; i < agentCount; i++) agents.Add(await SimulatedAgent.ConnectAsync(app.BaseAddress, i, sites));
        await using var chromium = await Chromium.LaunchAsync();
        var pageErrors = 0;
        var overview = await OpenAsync(chromium, app, "", () => pageErrors++);
        var hostPage = await OpenAsync(chromium, app, $"hosts/{agents[0].HostId}", () => pageErrors++);
        Console.WriteLine($"{agentCount} agents x {sites} sites, a batch every {Interval.TotalMilliseconds:0} ms each; baseline {Baseline.TotalSeconds:0} s not recording, then {minutes} min recording");

        var baseline = await PhaseAsync(app, agents, Baseline, rss: null);
        Print("not recording", baseline, null);

        using var created = await app.Http.PostAsJsonAsync("api/sessions", new { name = "soak" });
        created.EnsureSuccessStatusCode();
        var session = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        var sessionPage = await OpenAsync(chromium, app, $"sessions/{session}", () => pageErrors++);
        var rss = new List<(double Minutes, double Mb)>();
        var recording = await PhaseAsync(app, agents, TimeSpan.FromMinutes(minutes), rss);
        (await app.Http.PostAsync($"api/sessions/{session}/stop", null)).EnsureSuccessStatusCode();
        Print("recording", recording, baseline);

        var stored = (await app.Http.GetFromJsonAsync<JsonElement>($"api/sessions/{session}")).GetProperty("drops").GetInt64();
        // A batch committed after the hub stopped waiting for it was answered "retry": until its resend is acknowledged
        // (as a duplicate) it is in the session and still in its agent's spool. Beyond those, more would be doubled.
        var doubled = stored > recording.AckedDrops + recording.UnackedDrops;
        Console.WriteLine($"  session holds {stored:N0} drops of {recording.AckedDrops:N0} acknowledged: {Math.Max(0, recording.AckedDrops - stored):N0} lost, " +
                          $"{Math.Max(0, stored - recording.AckedDrops):N0} of the {recording.UnackedDrops:N0} still in the agents' spools ({(doubled ? "doubled!" : "none doubled")})");
        if (recording.Backlog.Count > 1)
            Console.WriteLine($"  agents' backlog {recording.Backlog[0].Item2:N0} -> {recording.Backlog[^1].Item2:N0} batches, slope {Slope(recording.Backlog):N0} batches/min (flat when the store keeps up)");
        Console.WriteLine($"  web RSS {rss[0].Mb:F0} MB -> {rss[^1].Mb:F0} MB, slope {Slope(rss):F2} MB/min over {rss.Count} samples; database {new FileInfo(database).Length / 1e6:F0} MB (+ WAL {Size(database + "-wal") / 1e6:F0} MB)");
        var lostCircuits = 0;
        foreach (var (page, name) in new[] { (overview, "soak-overview"), (hostPage, "soak-host"), (sessionPage, "soak-session") })
        {
            if (await page.Locator("#components-reconnect-modal").IsVisibleAsync()) lostCircuits++;
            Console.WriteLine($"  {name}: {await Chromium.ScreenshotAsync(page, name)}");
        }
        Console.WriteLine($"  browser: 3 pages open throughout, {pageErrors} console errors, {lostCircuits} lost circuits");
        foreach (var a in agents) await a.DisposeAsync();
        return recording.AckedDrops <= stored && !doubled && recording.Unacked == 0 && pageErrors == 0 && lostCircuits == 0 ? 0 : 1;
    }

    private sealed record Phase(long Made, long Acked, long Retried, long Reconnects, long Unacked, long AckedDrops, long UnackedDrops, List<double> AckMs, double Seconds, double CpuShare,
        List<(double Minutes, double Batches)> Backlog);

    /// <summary>Makes batches for <paramref name="duration"/>, then stops making them and lets every agent drain (at most a minute).</summary>
    private static async Task<Phase> PhaseAsync(WebAppProcess app, List<SimulatedAgent> agents, TimeSpan duration, List<(double, double)>? rss)
    {
        foreach (var a in agents) a.Reset();
        var cpuBefore = app.CpuTime;
        var clock = Stopwatch.StartNew();
        var backlog = new List<(double, double)>();
        using var making = new CancellationTokenSource(duration);
        var runs = agents.Select(a => a.RunAsync(making.Token)).ToList();
        while (!making.IsCancellationRequested)
        {
            backlog.Add((clock.Elapsed.TotalMinutes, agents.Sum(a => a.Waiting)));
            if (rss is not null)
            {
                rss.Add((clock.Elapsed.TotalMinutes, Rss(app.ProcessId)));
                if (rss.Count % 12 == 1) Console.WriteLine($"  {rss[^1].Item1:F1} min: web RSS {rss[^1].Item2:F0} MB, {agents.Sum(a => a.Waiting):N0} batches waiting");
            }
            try { await Task.Delay(TimeSpan.FromSeconds(5), making.Token); } catch (OperationCanceledException) { }
        }
        await Task.WhenAll(runs);
        var cpu = (app.CpuTime - cpuBefore).TotalSeconds / clock.Elapsed.TotalSeconds;
        return new Phase(agents.Sum(a => a.Made), agents.Sum(a => a.Acked), agents.Sum(a => a.Retried), agents.Sum(a => a.Reconnects), agents.Sum(a => a.Waiting),
            agents.Sum(a => a.AckedDrops), agents.Sum(a => a.WaitingDrops), agents.SelectMany(a => a.AckMs).Order().ToList(), clock.Elapsed.TotalSeconds, cpu, backlog);
    }

    private static async Task<IPage> OpenAsync(Chromium chromium, WebAppProcess app, string path, Action onError)
    {
        var page = await chromium.NewPageAsync(app.BaseAddress);
        page.Console += (_, m) => { if (m.Type == "error") { onError(); Console.WriteLine($"  console error on /{path}: {m.Text}"); } };
        page.PageError += (_, e) => { onError(); Console.WriteLine($"  page error on /{path}: {e}"); };
        await page.GotoAsync(path);
        return page;
    }

    private static void Print(string name, Phase p, Phase? baseline)
    {
        var p50 = Percentile(p.AckMs, 0.5);
        var p99 = Percentile(p.AckMs, 0.99);
        var ratio = baseline is null ? "" : $" ({p50 / Percentile(baseline.AckMs, 0.5):F1}x, {p99 / Percentile(baseline.AckMs, 0.99):F1}x not recording)";
        Console.WriteLine($"{name,-14} {p.Seconds,5:F0} s: batches made {p.Made:N0}, acked {p.Acked:N0}, answered retry {p.Retried:N0}, reconnects {p.Reconnects:N0}, unacked after drain {p.Unacked:N0}; " +
                          $"ack p50 {p50:F1} ms p99 {p99:F1} ms{ratio}; {p.Acked / p.Seconds:F0} batches/s; web CPU {100 * p.CpuShare:F0} %");
    }

    private static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[(int)Math.Min(sorted.Count - 1, Math.Ceiling(p * sorted.Count) - 1)];

    private static double Slope(List<(double X, double Y)> points)
    {
        var (mx, my) = (points.Average(p => p.X), points.Average(p => p.Y));
        var den = points.Sum(p => (p.X - mx) * (p.X - mx));
        return den == 0 ? double.NaN : points.Sum(p => (p.X - mx) * (p.Y - my)) / den;
    }

    private static double Rss(int pid) =>
        long.Parse(File.ReadLines($"/proc/{pid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[1]) / 1024.0;

    private static long Size(string path) => File.Exists(path) ? new FileInfo(path).Length : 0;

    /// <summary>An agent with an in-memory spool: batches leave it only when the hub took them (or had them already).</summary>
    private sealed class SimulatedAgent(HubConnection connection, AgentHello hello, int sites) : IAsyncDisposable
    {
        private static readonly string[] Reasons = ["SOCKET_RCVBUFF", "NO_SOCKET", "NETFILTER_DROP"];
        private readonly ConcurrentQueue<AgentBatch> _spool = new();
        private readonly Random _random = new(hello.HostId.GetHashCode());
        private long _sequence;
        private readonly BatchSender _sender = new(Console.Error);

        public long Made, Acked, Retried, AckedDrops, Reconnects;
        public List<double> AckMs { get; private set; } = [];
        public int Waiting => _spool.Count;
        public long WaitingDrops => _spool.Sum(b => b.Drops.Sum(d => (long)d.Count));
        public string HostId => hello.HostId;

        public static async Task<SimulatedAgent> ConnectAsync(Uri server, int index, int sites)
        {
            var connection = AgentConnection.Build(server, Token, new EverySecond());
            connection.ServerTimeout = TimeSpan.FromMinutes(2);
            await connection.StartAsync();
            return new SimulatedAgent(connection, new AgentHello($"soak-{index:D3}", $"soak-{index:D3}", "6.18.0", "tracepoint", "soak", 10, Guid.NewGuid().ToString("n")), sites);
        }

        public void Reset()
        {
            Made = Acked = Retried = AckedDrops = Reconnects = 0;
            AckMs = [];
        }

        public async Task RunAsync(CancellationToken making)
        {
            await Task.Delay(_random.Next(250), CancellationToken.None); // agents do not tick in step
            var maker = MakeAsync(making);
            var drainUntil = DateTime.MaxValue;
            while (true)
            {
                if (maker.IsCompleted && drainUntil == DateTime.MaxValue) drainUntil = DateTime.UtcNow.AddMinutes(1);
                if (!_spool.TryPeek(out var batch))
                {
                    if (maker.IsCompleted) return;
                    await Task.Delay(20, CancellationToken.None);
                    continue;
                }
                if (DateTime.UtcNow > drainUntil) return;
                var started = Stopwatch.GetTimestamp();
                BatchAck ack;
                try
                {
                    ack = await _sender.SendAsync(connection, hello, batch);
                }
                catch (Exception e) when (e is InvalidOperationException or Microsoft.AspNetCore.SignalR.HubException or IOException && connection.State != HubConnectionState.Connected)
                {
                    // The connection was lost (a dashboard too busy to answer its pings): the batch stays, it is sent once reconnected.
                    Reconnects++;
                    await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
                    continue;
                }
                AckMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                if (ack.Rejection == BatchRejection.None)
                {
                    _spool.TryDequeue(out _);
                    Acked++;
                    // Counted once, as it leaves the spool: a duplicate was stored by an attempt answered "retry".
                    AckedDrops += batch.Drops.Sum(d => d.Count);
                }
                else if (ack.Rejection is BatchRejection.Retry or BatchRejection.TooFast)
                {
                    Retried++;
                    await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
                }
                else throw new InvalidOperationException($"batch {batch.Sequence} of {hello.HostId} refused: {ack.Rejected}");
            }
        }

        private async Task MakeAsync(CancellationToken making)
        {
            using var timer = new PeriodicTimer(Interval);
            var sampleAt = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() + CounterInterval;
            try
            {
                while (await timer.WaitForNextTickAsync(making))
                {
                    var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                    var drops = new DropBucket[sites];
                    for (var i = 0; i < drops.Length; i++)
                        drops[i] = new DropBucket($"site_function_{i:D3}+0x{i * 16:x}", $"site_function_{i:D3}", Reasons[i % 3], (now - _random.Next(250)) / 10 * 10, _random.Next(1, 50), 0x0800);
                    CounterDelta[] counters = [];
                    if (now >= sampleAt)
                    {
                        counters = Enumerable.Range(0, 20).Select(i => new CounterDelta($"Udp.Counter{i}", _random.Next(100), sampleAt)).ToArray();
                        sampleAt += CounterInterval;
                    }
                    _spool.Enqueue(new AgentBatch(hello.HostId, ++_sequence, now, drops, counters, [], 0, 0));
                    Made++;
                }
            }
            catch (OperationCanceledException)
            {
            }
        }

        public ValueTask DisposeAsync() => connection.DisposeAsync();

        /// <summary>A lost connection is tried again every second, for as long as it takes, as the agent does.</summary>
        private sealed class EverySecond : IRetryPolicy
        {
            public TimeSpan? NextRetryDelay(RetryContext retryContext) => TimeSpan.FromSeconds(1);
        }
    }
}
