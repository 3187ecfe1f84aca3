using System.Diagnostics;
using DropBoard.Agent.Capture.Bpf;

namespace DropBoard.Benchmarks.Capture;

/// <summary>
/// What one bucket's read of the eBPF source's drop map costs as the map grows: the real program loaded and
/// attached, its per-CPU drop map filled from user space (bpf_map_update_elem) with 100 and then 10,000 distinct
/// keys (locations, in a namespace no drop comes from), and the source's read of it (batch lookups, each key's CPUs
/// summed into its delta by DropMapDeltas) timed. Prints median, 90th percentile and max at each size, and the
/// ratio of the medians to 100 keys. Needs root and a kernel with BTF.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- mapread [reads]</c>.
/// </summary>
internal static unsafe class MapReadHarness
{
    public static int Run(string[] args)
    {
        var reads = args.Length > 1 ? int.Parse(args[1]) : 300;
        using var source = BpfSource.Open();
        var cpus = source.Counts.Cpus;
        // Every CPU has counted one drop of each key; the values stay, as a new value each read would add the
        // update's cost to what is timed (a read sums every key's CPUs whether its count moved or not).
        var value = new byte[cpus * DropMapDeltas.ValueSize];
        for (var cpu = 0; cpu < cpus; cpu++) BitConverter.TryWriteBytes(value.AsSpan(cpu * DropMapDeltas.ValueSize), 1UL);
        var filled = 0;
        double? baseline = null;
        foreach (var keys in new[] { 100, 10_000 })
        {
            for (; filled < keys; filled++)
            {
                var key = new byte[DropKey.Size];
                BitConverter.TryWriteBytes(key.AsSpan(0), 0xffff_ffff_0000_0000UL + (ulong)filled); // no kernel text is here
                BitConverter.TryWriteBytes(key.AsSpan(12), uint.MaxValue); // no namespace has this inode
                fixed (byte* k = key, v = value)
                    if (LibBpf.MapUpdate(source.DropsMapFd, k, v, 0) is < 0 and var failed)
                        throw new InvalidOperationException($"filling the drop map failed: {LibBpf.Describe(-failed)}");
            }
            var times = new List<double>(reads);
            source.ReadMap(); // the first read of a key adds it to the deltas' table
            for (var i = 0; i < reads; i++)
            {
                var start = Stopwatch.GetTimestamp();
                source.ReadMap();
                times.Add(Stopwatch.GetElapsedTime(start).TotalMicroseconds);
            }
            if (source.Counts.Keys < keys) throw new InvalidOperationException($"the read saw {source.Counts.Keys} keys of {keys}");
            times.Sort();
            var median = times[times.Count / 2];
            baseline ??= median;
            Console.WriteLine($"{source.Counts.Keys,6} keys: median {median,9:F0} µs  p90 {times[(int)(times.Count * 0.9)],9:F0} µs  max {times[^1],9:F0} µs  ({median / source.Counts.Keys * 1000:F0} ns a key)  / 100 keys = {median / baseline:F1}");
        }
        return 0;
    }
}
