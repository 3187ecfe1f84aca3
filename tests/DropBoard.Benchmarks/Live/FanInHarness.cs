using System.Collections.Concurrent;
using System.Diagnostics;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using Microsoft.AspNetCore.SignalR.Client;

namespace DropBoard.Benchmarks.Live;

/// <summary>
/// How many agents one dashboard process holds: simulated agents over real SignalR on loopback, each sending a
/// batch every 250 ms with drops at its 200 active sites (one 10 ms bucket per site per batch, three reasons,
/// twenty counters), while a Chromium has the hosts overview and one host's live view open. Steps up the
/// number of agents; at each step prints batches per second, the hub's acknowledgement latency (p50, p99), the
/// share of batches sent late because the previous one was still unacknowledged (queueing), and the web
/// process's CPU. Baseline: the acknowledgement latency of a single agent in the same run.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- fanin [max-agents] [seconds-per-step]</c>.
/// </summary>
internal static class FanInHarness
{
    internal const string Token = "fan-in";
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    internal const int SitesPerAgent = 200;

    public static async Task<int> RunAsync(string[] args)
    {
        var maxAgents = args.Length > 1 ? int.Parse(args[1]) : 300;
        var stepSeconds = args.Length > 2 ? double.Parse(args[2]) : 10;
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false",
            "Logging:LogLevel:Default=Warning");
        await using var chromium = await Chromium.LaunchAsync();
        var overview = await chromium.NewPageAsync(app.BaseAddress);
        var hostPage = await chromium.NewPageAsync(app.BaseAddress);

        var agents = new List<SimulatedAgent>();
        Console.WriteLine($"{"agents",6} {"sites",7} {"batches/s",10} {"buckets/s",10} {"ack p50",8} {"ack p99",8} {"late %",7} {"web CPU %",9}");
        double? baselineP50 = null;
        foreach (var step in new[] { 1, 25, 50, 100, 150, 200, 250, 300, 400 }.Where(s => s <= maxAgents))
        {
            while (agents.Count < step) agents.Add(await SimulatedAgent.ConnectAsync(app.BaseAddress, agents.Count));
            if (agents.Count == 1)
            {
                await overview.GotoAsync("");
                await hostPage.GotoAsync($"hosts/{agents[0].HostId}");
            }
            foreach (var a in agents) a.Reset();
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(stepSeconds));
            var cpuBefore = app.CpuTime;
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(agents.Select(a => a.RunAsync(stop.Token)));
            var cpu = (app.CpuTime - cpuBefore).TotalSeconds / clock.Elapsed.TotalSeconds;

            var acks = agents.SelectMany(a => a.AckMs).Order().ToList();
            var sent = acks.Count;
            var late = agents.Sum(a => a.Late);
            var p50 = Percentile(acks, 0.5);
            baselineP50 ??= p50;
            Console.WriteLine($"{step,6} {step * SitesPerAgent,7} {sent / clock.Elapsed.TotalSeconds,10:F0} {sent * SitesPerAgent / clock.Elapsed.TotalSeconds,10:F0} " +
                              $"{p50,8:F1} {Percentile(acks, 0.99),8:F1} {100.0 * late / Math.Max(1, sent),7:F1} {100 * cpu,9:F0}   (ack p50 {p50 / baselineP50:F1}x one agent)");
        }
        await Chromium.ScreenshotAsync(hostPage, "fan-in-host");
        await Chromium.ScreenshotAsync(overview, "fan-in-overview");
        foreach (var a in agents) await a.DisposeAsync();
        return 0;
    }

    internal static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[(int)Math.Min(sorted.Count - 1, Math.Ceiling(p * sorted.Count) - 1)];

    internal sealed class SimulatedAgent(HubConnection connection, AgentHello hello) : IAsyncDisposable
    {
        private static readonly string[] Reasons = ["SOCKET_RCVBUFF", "NO_SOCKET", "NETFILTER_DROP"];
        private static readonly string[] Functions = Enumerable.Range(0, SitesPerAgent).Select(i => $"site_function_{i:D3}").ToArray();
        private long _sequence;

        public string HostId => hello.HostId;
        public ConcurrentBag<double> AckMs { get; private set; } = [];
        public int Late;

        public static async Task<SimulatedAgent> ConnectAsync(Uri server, int index)
        {
            var connection = new HubConnectionBuilder()
                .WithUrl(new Uri(server, AgentHubContract.Path.TrimStart('/')), o => o.AccessTokenProvider = () => Task.FromResult<string?>(Token))
                .Build();
            await connection.StartAsync();
            return new SimulatedAgent(connection, new AgentHello($"sim-{index:D3}", $"sim-{index:D3}", "6.18.0", "tracepoint", "fanin", 10, Guid.NewGuid().ToString("n")));
        }

        public void Reset()
        {
            AckMs = [];
            Late = 0;
        }

        public async Task RunAsync(CancellationToken cancellationToken)
        {
            var next = Stopwatch.GetTimestamp();
            var random = new Random(hello.HostId.GetHashCode());
            await Task.Delay(random.Next(250), CancellationToken.None); // agents do not tick in step
            while (!cancellationToken.IsCancellationRequested)
            {
                var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                var drops = new DropBucket[SitesPerAgent];
                for (var i = 0; i < drops.Length; i++)
                    drops[i] = new DropBucket($"{Functions[i]}+0x{i * 16:x}", Functions[i], Reasons[i % 3], (now - random.Next(250)) / 10 * 10, random.Next(1, 50), 0x0800);
                var counters = Enumerable.Range(0, 20).Select(i => new CounterDelta($"Udp.Counter{i}", random.Next(100), now)).ToArray();
                var batch = new AgentBatch(hello.HostId, ++_sequence, now, drops, counters, [], 0, 0);
                var started = Stopwatch.GetTimestamp();
                if (Stopwatch.GetElapsedTime(next, started) > Interval) Interlocked.Increment(ref Late);
                await connection.InvokeAsync<object>(AgentHubContract.BatchMethod, hello, batch, CancellationToken.None);
                AckMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                next += (long)(Interval.TotalSeconds * Stopwatch.Frequency);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                if (wait > TimeSpan.Zero) await Task.Delay(wait, CancellationToken.None);
            }
        }

        public ValueTask DisposeAsync() => connection.DisposeAsync();
    }
}
