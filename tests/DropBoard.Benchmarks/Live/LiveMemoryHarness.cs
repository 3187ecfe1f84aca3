using System.Diagnostics;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Live;

namespace DropBoard.Benchmarks.Live;

/// <summary>
/// The live store's memory for a fleet, without the network: the soak's batches (every site in every batch, twenty
/// counters, a batch per host every 250 ms, fresh strings each as the hub's decoder makes them) fed straight into a
/// <see cref="LiveStore"/> on a simulated clock, as fast as it takes them. Prints after each simulated half minute the
/// managed heap after a full collection, the process's RSS, and the store's CPU per 1,000 buckets; a query round (the
/// overview and one host page's reads) at the end. Stops early past 4 GB RSS so it cannot starve the machine.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- livememory [hosts] [sites] [minutes]</c>.
/// </summary>
internal static class LiveMemoryHarness
{
    private const long StopRssMb = 4096;

    public static async Task<int> RunAsync(string[] args)
    {
        var hosts = args.Length > 1 ? int.Parse(args[1]) : 200;
        var sites = args.Length > 2 ? int.Parse(args[2]) : 200;
        var minutes = args.Length > 3 ? double.Parse(args[3], System.Globalization.CultureInfo.InvariantCulture) : 3;
        var clock = new SimulatedClock(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000 * 1000);
        var store = new LiveStore(clock);
        var hellos = Enumerable.Range(0, hosts).Select(i => new AgentHello($"mem-{i:D3}", $"mem-{i:D3}", "6.18.0", "tracepoint", "mem", 10, "i")).ToArray();
        var random = new Random(17);
        string[] reasons = ["SOCKET_RCVBUFF", "NO_SOCKET", "NETFILTER_DROP"];
        Console.WriteLine($"{hosts} hosts x {sites} sites, a batch every 250 ms each (simulated), {minutes} min");
        Console.WriteLine($"{"simulated",9} {"heap MB",8} {"RSS MB",8} {"CPU µs/1k buckets",18}");
        var cpu = TimeSpan.Zero;
        long buckets = 0, sequence = 0;
        var steps = (int)(minutes * 240);
        for (var step = 1; step <= steps; step++)
        {
            clock.Ms += 250;
            var started = Process.GetCurrentProcess().TotalProcessorTime;
            sequence++;
            foreach (var hello in hellos)
            {
                var drops = new DropBucket[sites];
                for (var i = 0; i < sites; i++)
                {
                    var function = string.Concat("site_function_", i.ToString("D3"));
                    drops[i] = new DropBucket(string.Concat(function, "+0x", (i * 16).ToString("x")), function, reasons[i % 3], (clock.Ms - random.Next(250)) / 10 * 10, random.Next(1, 50), 0x0800);
                }
                var counters = Enumerable.Range(0, 20).Select(i => new CounterDelta(string.Concat("Udp.Counter", i.ToString()), random.Next(100), clock.Ms)).ToArray();
                await store.OnBatchAsync(hello, new AgentBatch(hello.HostId, sequence, clock.Ms, drops, counters, [], 0, 0), default);
                buckets += sites;
            }
            cpu += Process.GetCurrentProcess().TotalProcessorTime - started;
            if (step % 120 != 0 && step != steps) continue;
            var heap = GC.GetTotalMemory(forceFullCollection: true) / 1e6;
            var rss = Environment.WorkingSet / 1e6;
            Console.WriteLine($"{step / 240.0,7:F1} m {heap,8:F0} {rss,8:F0} {cpu.TotalMicroseconds / (buckets / 1000.0),18:F0}");
            if (rss > StopRssMb)
            {
                Console.WriteLine($"stopped: RSS past {StopRssMb} MB");
                break;
            }
        }
        var queryStarted = Stopwatch.StartNew();
        store.Hosts();
        var view = new HostLiveView(store) { HostId = hellos[0].HostId };
        view.Refresh();
        Console.WriteLine($"query round (overview + one host page, 1 min window): {queryStarted.Elapsed.TotalMilliseconds:F0} ms");
        return 0;
    }

    private sealed class SimulatedClock(long ms) : TimeProvider
    {
        public long Ms { get; set; } = ms;
        public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(Ms);
    }
}
