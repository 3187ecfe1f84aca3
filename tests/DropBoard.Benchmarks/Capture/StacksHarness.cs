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
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- stacks [reads] [rounds] [seconds]</c>.
/// </summary>
internal static class StacksHarness
{
    public static int Run(string[] args)
    {
        var reads = args.Length > 1 ? int.Parse(args[1]) : 300;
        var rounds = args.Length > 2 ? int.Parse(args[2]) : 3;
        var seconds = args.Length > 3 ? double.Parse(args[3]) : 4;
        Console.WriteLine($"// load: {File.ReadAllText("/proc/loadavg").Trim()}");
        using (var kernel = KernelTestLock.Acquire(holder: "stacks benchmark"))
            ReadCost(reads);
        FloodCpu(rounds, seconds);
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

    private static void FloodCpu(int rounds, double seconds)
    {
        var ns = $"dbstacks-{Environment.ProcessId}";
        FloodHarness.Sh("ip", "netns", "add", ns);
        try
        {
            FloodHarness.Sh("ip", "-n", ns, "link", "set", "lo", "up");
            var agentDll = Path.Combine(AppContext.BaseDirectory, "dropboard-agent.dll");
            string[] watch = [agentDll, "watch", "--json", "--source", "bpf", "--seconds", $"{seconds + 3}"];
            var (off, on) = (new List<FloodHarness.Result>(), new List<FloodHarness.Result>());
            for (var round = 0; round < rounds; round++)
            {
                using (KernelTestLock.Acquire(holder: "stacks benchmark"))
                {
                    off.Add(FloodHarness.Measure("agent bpf", "dotnet", watch, "watching", ns, seconds));
                    on.Add(FloodHarness.Measure("agent bpf --stacks", "dotnet", [.. watch, "--stacks"], "watching", ns, seconds));
                }
            }
            Console.WriteLine($"{"tool",-20} {"drops",10} {"drops/s",10} {"seen",10} {"lost",6} {"CPU s",7} {"CPU s/M drops",14}");
            foreach (var r in off.Zip(on).SelectMany(p => new[] { p.First, p.Second }))
                Console.WriteLine($"{r.Tool,-20} {r.Drops,10} {r.Drops / r.FloodSeconds,10:F0} {r.Seen,10} {r.Lost,6} {r.CpuSeconds,7:F2} {r.CpuSeconds / (r.Drops / 1e6),14:F3}");
            static double CpuPerDrop(IEnumerable<FloodHarness.Result> rs) => rs.Select(r => r.CpuSeconds / r.Drops).Order().ElementAt(rs.Count() / 2);
            static double Rate(IEnumerable<FloodHarness.Result> rs) => rs.Select(r => r.Drops / r.FloodSeconds).Order().ElementAt(rs.Count() / 2);
            Console.WriteLine($"agent CPU per drop, --stacks / without (medians of {rounds}) = {CpuPerDrop(on) / CpuPerDrop(off):F2}");
            Console.WriteLine($"flood drops/s, --stacks / without (medians of {rounds}) = {Rate(on) / Rate(off):F2}");
        }
        finally
        {
            FloodHarness.Sh("ip", "netns", "del", ns);
        }
    }

    private static string Figures(List<double> us)
    {
        var sorted = us.Order().ToList();
        return $"median {Median(sorted),7:F0} µs  p90 {sorted[(int)(sorted.Count * 0.9)],7:F0} µs  max {sorted[^1],7:F0} µs";
    }

    private static double Median(List<double> us) => us.Order().ElementAt(us.Count / 2);
}
