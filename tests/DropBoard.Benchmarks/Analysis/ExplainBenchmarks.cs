using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;

namespace DropBoard.Benchmarks.Analysis;

/// <summary>
/// Explain over a one-hour session of 200 active sites at 10 ms buckets: each site drops in 2% of its
/// buckets (7,200 non-empty buckets a site, 1.44 million in all) with a burst every few minutes. Baseline:
/// one pass that only sums the same buckets.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, warmupCount: 1, iterationCount: 5)]
[MemoryDiagnoser]
public class ExplainBenchmarks
{
    private const int Sites = 200, BucketMs = 10;
    private const long HourMs = 3_600_000;
    private List<DropBucket> _drops = [];
    private List<CounterDelta> _counters = [];

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        var reasons = new[] { "SOCKET_RCVBUFF", "NO_SOCKET", "NETFILTER_DROP", "CPU_BACKLOG", null };
        for (var s = 0; s < Sites; s++)
        {
            var function = $"site_fn_{s}";
            var site = $"{function}+0x{s * 16:x}";
            var reason = reasons[s % reasons.Length];
            for (var i = 0; i < 7_200; i++)
                _drops.Add(new DropBucket(site, function, reason, random.NextInt64(0, HourMs / BucketMs) * BucketMs, random.Next(1, 4)));
            for (var burst = random.Next(0, 180_000); burst < HourMs; burst += random.Next(60_000, 300_000))
                for (var k = 0; k < 5; k++)
                    _drops.Add(new DropBucket(site, function, reason, burst + k * BucketMs, 200));
        }
        for (var second = 0L; second < HourMs; second += 1000)
            _counters.Add(new CounterDelta("Udp.RcvbufErrors", random.Next(0, 50), second));
        Console.WriteLine($"// {_drops.Count} buckets, {_counters.Count} counter deltas");
    }

    [Benchmark(Baseline = true)]
    public long SumEveryBucket()
    {
        long total = 0;
        foreach (var d in _drops) total += d.Count;
        return total;
    }

    [Benchmark]
    public int ExplainOneHour() =>
        Explainer.Explain(_drops, _counters, new ExplainOptions { BucketMs = BucketMs, WindowStartMs = 0, WindowEndMs = HourMs }).Sentences.Count;
}
