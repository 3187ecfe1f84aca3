using System.Diagnostics;
using DropBoard.TestKit;

namespace DropBoard.Benchmarks.Live;

/// <summary>
/// Fan-in with one replica and with two (<c>DropBoard:Redis</c>, a throw-away <c>redis-server</c>, one database), in the
/// same run: the same simulated agents as <see cref="FanInHarness"/> (a batch every 250 ms, 200 sites), all on the one
/// replica, then split half and half over two. Prints per setup the hub's acknowledgement latency, the share of batches
/// sent late, and the CPU of the web processes (and Redis) per 1,000 buckets; then two replicas as ratios to one. Every
/// replica shows every batch live, so each of two does the live work of all agents and the decoding of its half.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- replicas [agents] [seconds]</c>.
/// </summary>
internal static class ReplicaFanInHarness
{
    public static async Task<int> RunAsync(string[] args)
    {
        var agents = args.Length > 1 ? int.Parse(args[1]) : 100;
        var seconds = args.Length > 2 ? double.Parse(args[2]) : 20;
        await using var redis = await RedisServer.StartAsync();
        Console.WriteLine($"{agents} agents x {FanInHarness.SitesPerAgent} sites, {seconds} s each; load average {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
        Console.WriteLine($"{"replicas",8} {"batches/s",10} {"ack p50",8} {"ack p99",8} {"late %",7} {"CPU ms/1k buckets",18}");
        var one = await MeasureAsync(redis, 1, agents, seconds);
        var two = await MeasureAsync(redis, 2, agents, seconds);
        Console.WriteLine($"two replicas / one: ack p50 {two.P50 / one.P50:F2}x, ack p99 {two.P99 / one.P99:F2}x, CPU per bucket {two.CpuPerKiloBucket / one.CpuPerKiloBucket:F2}x, " +
                          $"batches/s {two.BatchesPerSecond / one.BatchesPerSecond:F2}x");
        return 0;
    }

    private sealed record Figures(double BatchesPerSecond, double P50, double P99, double Late, double CpuPerKiloBucket);

    private static async Task<Figures> MeasureAsync(RedisServer redis, int replicas, int agentCount, double seconds)
    {
        string[] settings = [$"DropBoard:AgentToken={FanInHarness.Token}", "DropBoard:EmbeddedAgent=false", "Logging:LogLevel:Default=Warning",
            $"DropBoard:Database={WebAppProcess.NewDatabasePath()}", $"DropBoard:Redis={redis.Configuration}"];
        var apps = new List<WebAppProcess>();
        for (var i = 0; i < replicas; i++) apps.Add(await WebAppProcess.StartAsync(settings));
        var agents = new List<FanInHarness.SimulatedAgent>();
        for (var i = 0; i < agentCount; i++) agents.Add(await FanInHarness.SimulatedAgent.ConnectAsync(apps[i % replicas].BaseAddress, i, packed: true));
        // A short warm-up, not counted.
        using (var warm = new CancellationTokenSource(TimeSpan.FromSeconds(3))) await Task.WhenAll(agents.Select(a => a.RunAsync(warm.Token)));
        foreach (var a in agents) a.Reset();

        var cpuBefore = apps.Sum(a => a.CpuTime.TotalMilliseconds) + RedisCpuMs(redis);
        var clock = Stopwatch.StartNew();
        using (var stop = new CancellationTokenSource(TimeSpan.FromSeconds(seconds))) await Task.WhenAll(agents.Select(a => a.RunAsync(stop.Token)));
        var cpuMs = apps.Sum(a => a.CpuTime.TotalMilliseconds) + RedisCpuMs(redis) - cpuBefore;
        var acks = agents.SelectMany(a => a.AckMs).Order().ToList();
        var figures = new Figures(acks.Count / clock.Elapsed.TotalSeconds, FanInHarness.Percentile(acks, 0.5), FanInHarness.Percentile(acks, 0.99),
            100.0 * agents.Sum(a => a.Late) / Math.Max(1, acks.Count), cpuMs / (acks.Count * FanInHarness.SitesPerAgent / 1000.0));
        Console.WriteLine($"{replicas,8} {figures.BatchesPerSecond,10:F0} {figures.P50,8:F1} {figures.P99,8:F1} {figures.Late,7:F1} {figures.CpuPerKiloBucket,18:F2}");
        foreach (var a in agents) await a.DisposeAsync();
        foreach (var app in apps) await app.DisposeAsync();
        return figures;
    }

    private static double RedisCpuMs(RedisServer redis)
    {
        using var process = Process.GetProcessById(redis.ProcessId);
        return process.TotalProcessorTime.TotalMilliseconds;
    }
}
