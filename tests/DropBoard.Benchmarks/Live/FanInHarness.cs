using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.Agent.Uplink;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using Microsoft.AspNetCore.SignalR.Client;

namespace DropBoard.Benchmarks.Live;

/// <summary>
/// How many agents one dashboard process holds: simulated agents over real SignalR on loopback, each sending a
/// batch every 250 ms with drops at its 200 active sites (one 10 ms bucket per site per batch, three reasons,
/// twenty counters), while a Chromium has the hosts overview and one host's live view open. The agents run in a
/// child process of their own (<c>fanin-agents</c>) pinned to one core, the dashboard pinned to the other, so the
/// figures are the server's. Steps up the number of agents; at each step prints batches per second, the hub's
/// acknowledgement latency (p50, p99), the share of batches sent late because the previous one was still
/// unacknowledged (queueing), the web process's CPU, and its CPU per 1,000 buckets as a ratio to decoding the same
/// batches alone (as the hub gets them: packed, or JSON text with <c>json</c>; in this process, measured in the same run), and the agents'
/// process's CPU: near 100 % of its core, the agents themselves are what is late, not the server.
/// Baseline: the acknowledgement latency of a single agent in the same run.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- fanin [max-agents] [seconds-per-step] [packed|json]</c>
/// (<c>json</c>: the agents send as agents from before packed batches did).
/// </summary>
internal static class FanInHarness
{
    internal const string Token = "fan-in";
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(250);
    internal const int SitesPerAgent = 200;
    private const int WebCore = 0, AgentCore = 1;

    public static async Task<int> RunAsync(string[] args)
    {
        var maxAgents = args.Length > 1 ? int.Parse(args[1]) : 300;
        var stepSeconds = args.Length > 2 ? double.Parse(args[2], CultureInfo.InvariantCulture) : 10;
        var packed = args.Length <= 3 || args[3] != "json";
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false",
            "Logging:LogLevel:Default=Warning");
        Pin(app.ProcessId, WebCore);
        using var agents = StartAgents(app.BaseAddress, packed);
        await using var chromium = await Chromium.LaunchAsync();
        var overview = await chromium.NewPageAsync(app.BaseAddress);
        var hostPage = await chromium.NewPageAsync(app.BaseAddress);
        var (jsonUsPer1k, packedUsPer1k) = (DecodeMicrosecondsPer1000Buckets(packed: false), DecodeMicrosecondsPer1000Buckets(packed: true));
        var decodeUsPer1k = packed ? packedUsPer1k : jsonUsPer1k;

        Console.WriteLine($"web on core {WebCore}, agents in process {agents.Id} on core {AgentCore}; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}; " +
                          $"batches {(packed ? "packed" : "as JSON")}; decoding alone, µs CPU per 1,000 buckets: JSON {jsonUsPer1k:F0}, packed {packedUsPer1k:F0} ({packedUsPer1k / jsonUsPer1k:F2}x)");
        Console.WriteLine($"{"agents",6} {"sites",7} {"batches/s",10} {"buckets/s",10} {"ack p50",8} {"ack p99",8} {"late %",7} {"web CPU %",9} {"µs/1k bkt",9} {"x decode",8} {"agents CPU %",12}");
        double? baselineP50 = null;
        foreach (var step in new[] { 1, 25, 50, 100, 150, 200, 250, 300, 400 }.Where(s => s <= maxAgents))
        {
            if (step == 25)
            {
                await overview.GotoAsync("");
                await hostPage.GotoAsync("hosts/sim-000");
            }
            var cpuBefore = app.CpuTime;
            agents.Refresh();
            var agentsCpuBefore = agents.TotalProcessorTime;
            var clock = Stopwatch.StartNew();
            await agents.StandardInput.WriteLineAsync(FormattableString.Invariant($"{step} {stepSeconds}"));
            var line = await agents.StandardOutput.ReadLineAsync() ?? throw new InvalidOperationException("the agents' process ended");
            var cpu = (app.CpuTime - cpuBefore).TotalSeconds;
            agents.Refresh();
            var agentsCpu = (agents.TotalProcessorTime - agentsCpuBefore).TotalSeconds;
            var elapsed = clock.Elapsed.TotalSeconds;
            var r = JsonSerializer.Deserialize<StepResult>(line)!;
            var p50 = r.P50;
            baselineP50 ??= p50;
            var usPer1k = cpu * 1e6 / (r.Sent * SitesPerAgent / 1000.0);
            Console.WriteLine($"{step,6} {step * SitesPerAgent,7} {r.Sent / r.Seconds,10:F0} {r.Sent * SitesPerAgent / r.Seconds,10:F0} " +
                              $"{p50,8:F1} {r.P99,8:F1} {100.0 * r.Late / Math.Max(1, r.Sent),7:F1} {100 * cpu / elapsed,9:F0} {usPer1k,9:F0} {usPer1k / decodeUsPer1k,8:F1} {100 * agentsCpu / elapsed,12:F0}" +
                              $"   (ack p50 {p50 / baselineP50:F1}x one agent; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
        }
        await Chromium.ScreenshotAsync(hostPage, "fan-in-host");
        await Chromium.ScreenshotAsync(overview, "fan-in-overview");
        agents.StandardInput.Close();
        await agents.WaitForExitAsync();
        return 0;
    }

    /// <summary>The child process: reads "AGENTS SECONDS" lines, runs that step, answers one JSON line.</summary>
    public static async Task<int> AgentsAsync(string[] args)
    {
        var server = new Uri(args[1]);
        var agents = new List<SimulatedAgent>();
        while (await Console.In.ReadLineAsync() is { } line)
        {
            var parts = line.Split(' ');
            var (count, seconds) = (int.Parse(parts[0]), double.Parse(parts[1], CultureInfo.InvariantCulture));
            while (agents.Count < count) agents.Add(await SimulatedAgent.ConnectAsync(server, agents.Count, packed: args[2] == "packed"));
            foreach (var a in agents) a.Reset();
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds));
            var clock = Stopwatch.StartNew();
            await Task.WhenAll(agents.Select(a => a.RunAsync(stop.Token)));
            var acks = agents.SelectMany(a => a.AckMs).Order().ToList();
            Console.WriteLine(JsonSerializer.Serialize(new StepResult(acks.Count, agents.Sum(a => a.Late), Percentile(acks, 0.5), Percentile(acks, 0.99), clock.Elapsed.TotalSeconds)));
        }
        foreach (var a in agents) await a.DisposeAsync();
        return 0;
    }

    private sealed record StepResult(int Sent, int Late, double P50, double P99, double Seconds);

    private static Process StartAgents(Uri server, bool packed)
    {
        var self = Environment.ProcessPath!;
        var psi = new ProcessStartInfo("taskset") { RedirectStandardInput = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in new[] { "-c", AgentCore.ToString(CultureInfo.InvariantCulture), self }) psi.ArgumentList.Add(a);
        // Run as `dotnet DropBoard.Benchmarks.dll` or as the apphost alike.
        if (Path.GetFileNameWithoutExtension(self) == "dotnet") psi.ArgumentList.Add(typeof(FanInHarness).Assembly.Location);
        psi.ArgumentList.Add("fanin-agents");
        psi.ArgumentList.Add(server.ToString());
        psi.ArgumentList.Add(packed ? "packed" : "json");
        return Process.Start(psi)!;
    }

    /// <summary>Every thread of the process, now and later (threads inherit it), on one core.</summary>
    private static void Pin(int pid, int core)
    {
        using var taskset = Process.Start(new ProcessStartInfo("taskset", ["-a", "-c", "-p", core.ToString(CultureInfo.InvariantCulture), pid.ToString(CultureInfo.InvariantCulture)])
        { RedirectStandardOutput = true })!;
        taskset.WaitForExit();
        if (taskset.ExitCode != 0) throw new InvalidOperationException($"taskset could not pin process {pid} to core {core}");
    }

    /// <summary>
    /// CPU of decoding the agents' batches alone, from the JSON text of the hub's argument into the contracts: the batch's
    /// JSON, or the base64 string of its packed bytes.
    /// </summary>
    private static double DecodeMicrosecondsPer1000Buckets(bool packed)
    {
        var random = new Random(1);
        var batches = Enumerable.Range(0, 200).Select(i => SimulatedAgent.MakeBatch("sim-000", i + 1, random));
        var texts = batches.Select(b => packed
            ? JsonSerializer.SerializeToUtf8Bytes(BatchPacking.Pack(b), ContractsJson.Default.ByteArray)
            : JsonSerializer.SerializeToUtf8Bytes(b, ContractsJson.Default.AgentBatch)).ToList();
        Action<byte[]> decode = packed
            ? t => BatchPacking.Unpack(JsonSerializer.Deserialize(t, ContractsJson.Default.ByteArray))
            : t => JsonSerializer.Deserialize(t, ContractsJson.Default.AgentBatch);
        foreach (var t in texts) decode(t);
        var started = Process.GetCurrentProcess().TotalProcessorTime;
        var rounds = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(2))
        {
            foreach (var t in texts) decode(t);
            rounds++;
        }
        var cpu = (Process.GetCurrentProcess().TotalProcessorTime - started).TotalMicroseconds;
        return cpu / (rounds * texts.Count * SitesPerAgent / 1000.0);
    }

    internal static double Percentile(List<double> sorted, double p) =>
        sorted.Count == 0 ? double.NaN : sorted[(int)Math.Min(sorted.Count - 1, Math.Ceiling(p * sorted.Count) - 1)];

    internal sealed class SimulatedAgent(HubConnection connection, AgentHello hello, bool packed) : IAsyncDisposable
    {
        private static readonly string[] Reasons = ["SOCKET_RCVBUFF", "NO_SOCKET", "NETFILTER_DROP"];
        private static readonly string[] Functions = Enumerable.Range(0, SitesPerAgent).Select(i => $"site_function_{i:D3}").ToArray();
        private long _sequence;
        private readonly BatchSender _sender = new(Console.Error);

        public ConcurrentBag<double> AckMs { get; private set; } = [];
        public int Late;

        public static async Task<SimulatedAgent> ConnectAsync(Uri server, int index, bool packed)
        {
            var connection = AgentConnection.Build(server, Token);
            await connection.StartAsync();
            return new SimulatedAgent(connection, new AgentHello($"sim-{index:D3}", $"sim-{index:D3}", "6.18.0", "tracepoint", "fanin", 10, Guid.NewGuid().ToString("n")), packed);
        }

        public static AgentBatch MakeBatch(string hostId, long sequence, Random random)
        {
            var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
            var drops = new DropBucket[SitesPerAgent];
            for (var i = 0; i < drops.Length; i++)
                drops[i] = new DropBucket($"{Functions[i]}+0x{i * 16:x}", Functions[i], Reasons[i % 3], (now - random.Next(250)) / 10 * 10, random.Next(1, 50), 0x0800);
            var counters = Enumerable.Range(0, 20).Select(i => new CounterDelta($"Udp.Counter{i}", random.Next(100), now)).ToArray();
            return new AgentBatch(hostId, sequence, now, drops, counters, [], 0, 0);
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
                var batch = MakeBatch(hello.HostId, ++_sequence, random);
                var started = Stopwatch.GetTimestamp();
                if (Stopwatch.GetElapsedTime(next, started) > Interval) Interlocked.Increment(ref Late);
                var ack = packed
                    ? await _sender.SendAsync(connection, hello, batch)
                    : await connection.InvokeAsync<BatchAck>(AgentHubContract.BatchMethod, hello, batch, CancellationToken.None);
                if (ack.Rejection != BatchRejection.None) throw new InvalidOperationException($"batch {batch.Sequence} of {hello.HostId} refused: {ack.Rejected}");
                AckMs.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                next += (long)(Interval.TotalSeconds * Stopwatch.Frequency);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                if (wait > TimeSpan.Zero) await Task.Delay(wait, CancellationToken.None);
            }
        }

        public ValueTask DisposeAsync() => connection.DisposeAsync();
    }
}
