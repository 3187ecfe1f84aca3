using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Counters;

/// <summary>From two snapshots, the counters that rose, as non-negative deltas.</summary>
public static class CounterDeltas
{
    private const ulong Wrap32 = 1UL << 32;

    /// <summary>Values in the files that are settings or gauges, not event counts: they go down as well as up.</summary>
    private static readonly HashSet<string> NotCounters =
    [
        "Ip.Forwarding", "Ip.DefaultTTL",
        "Tcp.RtoAlgorithm", "Tcp.RtoMin", "Tcp.RtoMax", "Tcp.MaxConn", "Tcp.CurrEstab",
        "Conntrack.entries",
    ];

    /// <summary>
    /// Settings and gauges (a queue's length now, the conntrack table's size) are kept in the snapshot but never
    /// sent as deltas: a rise of a gauge is no count of events. Qdisc backlogs are gauges by their name's last part.
    /// </summary>
    public static bool IsGauge(string name) =>
        NotCounters.Contains(name)
        || name.StartsWith("Qdisc.", StringComparison.Ordinal)
        && (name.EndsWith(".backlog_bytes", StringComparison.Ordinal) || name.EndsWith(".backlog_packets", StringComparison.Ordinal));

    /// <summary>
    /// How much a counter rose from <paramref name="previous"/> to <paramref name="current"/>. A value that went
    /// down is one of two things. A 32-bit wrap: softnet_stat counters are u32 on every kernel and 32-bit
    /// kernels keep snmp counters in 32 bits; counted modulo 2^32 the counter moved forward by less than half
    /// the range (in one sampling interval it cannot do more). Otherwise a reset (reboot, namespace or
    /// interface recreated): the counter restarted at zero, so everything counted since is the new value.
    /// A reset from just below 2^32 to a small value is indistinguishable from a wrap and counts as one.
    /// </summary>
    public static ulong Delta(ulong previous, ulong current)
    {
        if (current >= previous) return current - previous;
        if (previous < Wrap32)
        {
            var forward = Wrap32 - previous + current;
            if (forward < Wrap32 / 2) return forward;
        }
        return current;
    }

    /// <summary>
    /// Counters present in both snapshots that changed, sorted by name. A counter that appears is a baseline
    /// (no delta), except in groups the kernel prints only once non-zero (<see cref="CounterSnapshot.ImpliesZero"/>);
    /// a counter that disappears is forgotten. The softnet sums are the sums of the per-CPU deltas, so a
    /// CPU going offline (its line vanishes) or one CPU's 32-bit wrap does not read as a reset of the sum.
    /// </summary>
    public static List<CounterDelta> Between(CounterSnapshot previous, CounterSnapshot current, long atUnixMs)
    {
        var deltas = new List<CounterDelta>();
        var softnet = ProcNetParsers.SoftnetCounters;
        Span<ulong> softnetSums = stackalloc ulong[softnet.Length];
        foreach (var (name, value) in current.Values)
        {
            var column = SoftnetColumn(name, out var perCpu);
            if ((column >= 0 && !perCpu) || IsGauge(name)) continue;
            if (!previous.Values.TryGetValue(name, out var before))
            {
                if (!previous.ImpliesZero(name)) continue;
                before = 0;
            }
            if (before == value) continue;
            var delta = Delta(before, value);
            if (column >= 0)
            {
                softnetSums[column] += delta;
                if (!softnet[column].PerCpuDelta) continue;
            }
            deltas.Add(new CounterDelta(name, ToLong(delta), atUnixMs));
        }
        for (var k = 0; k < softnet.Length; k++)
            if (softnetSums[k] != 0) deltas.Add(new CounterDelta(softnet[k].SumName, ToLong(softnetSums[k]), atUnixMs));
        deltas.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return deltas;
    }

    private static long ToLong(ulong delta) => (long)Math.Min(delta, long.MaxValue);

    /// <summary>Index in <see cref="ProcNetParsers.SoftnetCounters"/> of <c>Softnet.cpuN.col</c> (per CPU) or <c>Softnet.col</c> (sum); -1 otherwise.</summary>
    private static int SoftnetColumn(string name, out bool perCpu)
    {
        perCpu = false;
        if (!name.StartsWith("Softnet.", StringComparison.Ordinal)) return -1;
        var rest = name.AsSpan("Softnet.".Length);
        var dot = rest.LastIndexOf('.');
        perCpu = dot >= 0;
        var column = rest[(dot + 1)..];
        var counters = ProcNetParsers.SoftnetCounters;
        for (var k = 0; k < counters.Length; k++)
            if (column.SequenceEqual(counters[k].Name)) return k;
        return -1;
    }
}
