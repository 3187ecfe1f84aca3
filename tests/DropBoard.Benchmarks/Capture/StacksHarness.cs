using System.Diagnostics;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture.Bpf;
using DropBoard.Agent.Pipeline;
using DropBoard.Agent.Symbols;
using DropBoard.TestKit;

namespace DropBoard.Benchmarks.Capture;

/// <summary>
/// What --stacks costs. (1) A bucket's map reads: the bpf source with stacks and one without, both loaded, read in
/// turn (SampleCounters with no counters: the drop map read twice, and with stacks the path map and any new stack),
/// quiet and under a UDP flood into a tiny receive buffer. (2) The agent under the flood with --stacks and without,
/// alternated: its CPU per million drops (start-up excluded) and the flood's drops a second (the program's per-drop
/// work is the kernel's, so it shows there). Prints ratios stacks on / off. Needs root.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- stacks [reads] [rounds]</c>.
/// </summary>
internal static class StacksHarness
{
    public static async Task<int> RunAsync(string[] args)
    {
        var reads = args.Length > 1 ? int.Parse(args[1]) : 300;
        var rounds = args.Length > 2 ? int.Parse(args[2]) : 3;
        Console.WriteLine($"// load: {File.ReadAllText("/proc/loadavg").Trim()}");
        using (var kernel = KernelTestLock.Acquire(holder: "stacks benchmark"))
            ReadCost(reads);
        await FloodCpuAsync(rounds);
        Console.WriteLine($"// load: {File.ReadAllText("/proc/loadavg").Trim()}");
        return 0;
    }

    private static void ReadCost(int reads)
    {
        using var ns = NetNamespace.Create("dbstacks");
        var symbolizer = Symbolizer.LoadKallsyms();
        using var off = BpfSource.Open();
        using var on = BpfSource.Open(stacks: true);
        var (offAggregator, onAggregator) = (new DropAggregator(symbolizer), new DropAggregator(symbolizer));
        Measure("quiet", reads, off, offAggregator, on, onAggregator);
        using var flooding = new CancellationTokenSource();
        var flood = Task.Run(() =>
        {
            while (!flooding.IsCancellationRequested) UdpTraffic.OverflowReceiveBuffer(ns, 20_000, port: 7395);
        });
        Thread.Sleep(500);
        Measure("flood", reads, off, offAggregator, on, onAggregator);
        flooding.Cancel();
        flood.Wait();
        Console.WriteLine($"paths read: {on.Counts.PathTotals.Count} keys, {on.Counts.PathTotals.Values.Sum(v => (long)v)} drops on them; drop keys {on.Counts.Keys}");
    }

    private static void Measure(string load, int reads, BpfSource off, DropAggregator offAggregator, BpfSource on, DropAggregator onAggregator)
    {
        var (offUs, onUs) = (new List<double>(reads), new List<double>(reads));
        for (var i = 0; i < reads; i++)
        {
            var start = Stopwatch.GetTimestamp();
            off.SampleCounters(offAggregator, () => { }, 0);
            offUs.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            start = Stopwatch.GetTimestamp();
            on.SampleCounters(onAggregator, () => { }, 0);
            onAggregator.Flush(on.Paths!);
            onUs.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            offAggregator.Flush();
            onAggregator.Flush();
            Thread.Sleep(10);
        }
        Console.WriteLine($"{load,-6} read, stacks off  {Figures(offUs)}");
        Console.WriteLine($"{load,-6} read, stacks on   {Figures(onUs)} (paths flushed and named too)");
        Console.WriteLine($"{load,-6} read cost stacks on / off (medians) = {Median(onUs) / Median(offUs):F2}");
    }

    /// <summary>2M-datagram floods watched by the bpf agent without and with --stacks, alternated (the flood harness's runs).</summary>
    private static async Task FloodCpuAsync(int rounds)
    {
        using var ns = NetNamespace.Create("dbstacks");
        using var kernel = KernelTestLock.Acquire(holder: "stacks benchmark");
        FloodHarness.Mode[] modes = [new("bpf", Agent: ["--source", "bpf"]), new("bpf --stacks", Agent: ["--source", "bpf", "--stacks"])];
        var results = modes.ToDictionary(m => m, _ => new List<FloodHarness.Result>());
        var port = 9100;
        Console.WriteLine($"{"round",5} {"mode",-14} {"drops",9} {"drops/s",10} {"seen",9} {"lost",6} {"CPU s",7} {"CPU s/M drops",14}");
        for (var round = 0; round < rounds; round++)
            for (var i = 0; i < modes.Length; i++)
            {
                var mode = modes[(i + round) % modes.Length];
                var r = await FloodHarness.MeasureAsync(mode, ns, port++);
                results[mode].Add(r);
                Console.WriteLine($"{round + 1,5} {mode.Name,-14} {r.Drops,9} {r.Drops / r.FloodSeconds,10:F0} {r.Seen,9} {r.Lost,6} {r.ToolCpu,7:F2} {r.ToolCpu / (r.Drops / 1e6),14:F3}");
            }
        var (off, on) = (results[modes[0]], results[modes[1]]);
        Console.WriteLine($"agent CPU per drop, --stacks / without (median of {rounds} rounds) = {Floods.Median(on.Select((r, i) => r.ToolCpu / r.Drops / (off[i].ToolCpu / off[i].Drops))):F2}");
        Console.WriteLine($"flood drops/s, --stacks / without (median of {rounds} rounds) = {Floods.Median(on.Select((r, i) => r.Drops / r.FloodSeconds / (off[i].Drops / off[i].FloodSeconds))):F2}");
    }

    private static string Figures(List<double> us)
    {
        var sorted = us.Order().ToList();
        return $"median {Median(sorted),7:F0} µs  p90 {sorted[(int)(sorted.Count * 0.9)],7:F0} µs  max {sorted[^1],7:F0} µs";
    }

    private static double Median(List<double> us) => us.Order().ElementAt(us.Count / 2);
}
