using System.Diagnostics;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture.Tracepoint;
using DropBoard.Agent.Counters;
using DropBoard.Agent.Pipeline;
using DropBoard.Agent.Symbols;
using DropBoard.TestKit;

namespace DropBoard.Benchmarks.Capture;

/// <summary>
/// What a counter sample costs the tracepoint source: its SampleCounters (cut, counter read, perf rings drained through
/// copy-out and decoding, the read again when a drop was stamped during it) against the plain cut and read every
/// source had before (the baseline), alternated on the same counters, quiet and then under a steady stream of drops
/// (one a millisecond, as the sample-span test makes). Prints median, 90th percentile and max of each, and the ratio.
/// Needs root. Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- samplecost [samples]</c>.
/// </summary>
internal static class SampleCostHarness
{
    public static int Run(string[] args)
    {
        var samples = args.Length > 1 ? int.Parse(args[1]) : 200;
        using var ns = NetNamespace.Create("dbsample");
        using var kernel = KernelTestLock.Acquire(holder: "sample cost benchmark");
        using var counters = new CounterSampler(ns.Name);
        using var source = TracepointSource.Open();
        var aggregator = new DropAggregator(Symbolizer.LoadKallsyms());
        using var stop = new CancellationTokenSource();
        var capture = new Thread(() => source.Run(aggregator, new SampleCap(0), stop.Token)) { IsBackground = true };
        capture.Start();
        Thread.Sleep(500);
        try
        {
            Measure("quiet", source, aggregator, counters, samples);
            using var streaming = new CancellationTokenSource();
            var stream = Task.Run(() => UdpTraffic.SteadyOverflow(ns, 7391, streaming.Token));
            Thread.Sleep(500);
            Measure("1 drop/ms", source, aggregator, counters, samples);
            streaming.Cancel();
            stream.Wait();
        }
        finally
        {
            stop.Cancel();
            capture.Join();
        }
        return 0;
    }

    private static void Measure(string load, TracepointSource source, DropAggregator aggregator, CounterSampler counters, int samples)
    {
        var baseline = new List<double>(samples);
        var drained = new List<double>(samples);
        for (var i = 0; i < samples; i++)
        {
            var start = Stopwatch.GetTimestamp();
            aggregator.CutAt(source.NowUnixNs());
            counters.Read();
            baseline.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            start = Stopwatch.GetTimestamp();
            source.SampleCounters(aggregator, counters.Read, 0);
            drained.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            aggregator.Flush();
            Thread.Sleep(20);
        }
        Console.WriteLine($"{load,-10} cut+read    {Figures(baseline)}");
        Console.WriteLine($"{load,-10} drained     {Figures(drained)}");
        Console.WriteLine($"{load,-10} drained / cut+read (medians) = {Median(drained) / Median(baseline):F2}");
    }

    private static string Figures(List<double> us)
    {
        us.Sort();
        return $"median {Median(us),8:F0} µs  p90 {us[(int)(us.Count * 0.9)],8:F0} µs  max {us[^1],8:F0} µs";
    }

    private static double Median(List<double> us) => us.Order().ElementAt(us.Count / 2);
}
