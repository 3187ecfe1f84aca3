using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Live;
using DropBoard.Web.Metrics;

namespace DropBoard.Benchmarks.Metrics;

/// <summary>
/// One <c>/metrics</c> scrape at 200 hosts × 200 sites (40,000 drop series, 16 loss counters a host), every site
/// dropping in each of the last 60 seconds: the worst the live store's one-minute host list (read for the
/// connection gauge) sees. Baseline: that host list alone.
/// </summary>
[SimpleJob(RunStrategy.Monitoring, warmupCount: 2, iterationCount: 10)]
[MemoryDiagnoser]
public class ScrapeBenchmarks
{
    private const int Hosts = 200, Sites = 200, Seconds = 60;
    private LiveStore _store = null!;
    private PrometheusMetrics _metrics = null!;

    [GlobalSetup]
    public void Setup()
    {
        _store = new LiveStore(TimeProvider.System);
        _metrics = new PrometheusMetrics(_store);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000 * 1000;
        for (var h = 0; h < Hosts; h++)
        {
            var host = $"host-{h:000}.example.org";
            var drops = new List<DropBucket>(Sites * Seconds);
            for (var s = 0; s < Sites; s++)
                for (var second = 0; second < Seconds; second++)
                    drops.Add(new DropBucket($"site_fn_{s}+0x{s * 16:x}", $"site_fn_{s}", s % 3 == 0 ? null : "SOCKET_RCVBUFF", now - second * 1000, 1 + s % 7, 0x0800));
            var hello = new AgentHello(host, host, "6.18.0", "tracepoint", "bench", 10, "bench");
            var batch = new AgentBatch(host, 1, now, drops, [new CounterDelta("Udp.RcvbufErrors", 5, now)], [], 0, 0);
            _store.OnBatchAsync(hello, batch, CancellationToken.None).AsTask().Wait();
            _metrics.OnBatchAsync(hello, batch, CancellationToken.None).AsTask().Wait();
        }
    }

    [Benchmark(Baseline = true)]
    public int HostList() => _store.Hosts().Count;

    [Benchmark]
    public long Scrape()
    {
        using var text = new MemoryStream();
        _metrics.Registry.CollectAndExportAsTextAsync(text).Wait();
        return text.Length;
    }
}
