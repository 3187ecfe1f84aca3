using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Live;

namespace DropBoard.Benchmarks.Live;

/// <summary>
/// The hosts overview's read at 200 hosts × 200 sites, every site dropping in each of the last 60 seconds:
/// <see cref="LiveStore.Hosts"/> (running totals of each host's minute) against the baseline, the recount it replaced:
/// each host's minute summed again from its ring, by site (<see cref="LiveStore.Sites"/>), then by function, top 3.
/// The clock stands still (the recount would otherwise find less and less in its minute).
/// </summary>
[SimpleJob(RunStrategy.Monitoring, warmupCount: 2, iterationCount: 10)]
[MemoryDiagnoser]
public class HostListBenchmarks
{
    private const int HostCount = 200, Sites = 200, Seconds = 60;
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private readonly StandingClock _clock = new();
    private LiveStore _store = null!;
    private string[] _hostIds = null!;

    private sealed class StandingClock : TimeProvider
    {
        public long Ms = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000 * 1000;
        public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(Ms);
    }

    [GlobalSetup]
    public void Setup()
    {
        _store = new LiveStore(_clock);
        _hostIds = new string[HostCount];
        for (var h = 0; h < HostCount; h++)
        {
            var host = _hostIds[h] = $"host-{h:000}.example.org";
            var drops = new List<DropBucket>(Sites * Seconds);
            for (var s = 0; s < Sites; s++)
                for (var second = 0; second < Seconds; second++)
                    drops.Add(new DropBucket($"site_fn_{s}+0x{s * 16:x}", $"site_fn_{s}", s % 3 == 0 ? null : "SOCKET_RCVBUFF", _clock.Ms - second * 1000, 1 + s % 7, 0x0800));
            var hello = new AgentHello(host, host, "6.18.0", "tracepoint", "bench", 10, "bench");
            _store.OnBatchAsync(hello, new AgentBatch(host, 1, _clock.Ms, drops, [], [], 0, 0), CancellationToken.None).AsTask().Wait();
        }
    }

    [Benchmark(Baseline = true)]
    public long Recount()
    {
        var total = 0L;
        foreach (var hostId in _hostIds)
        {
            var sites = _store.Sites(hostId, Minute);
            var top = sites.GroupBy(s => s.Function).Select(g => new FunctionRate(g.Key, g.Sum(s => s.Count) / 60.0))
                .OrderByDescending(f => f.PerSecond).ThenBy(f => f.Function, StringComparer.Ordinal).Take(3).ToList();
            total += sites.Sum(s => s.Count) + top.Count;
        }
        return total;
    }

    [Benchmark]
    public long Hosts() => _store.Hosts().Sum(h => h.DropsLastMinute + h.TopFunctions.Count);
}
