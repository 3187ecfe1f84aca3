using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Counters;

/// <summary>From two snapshots, the counters that rose, as non-negative deltas.</summary>
public static class CounterDeltas
{
    private const ulong Wrap32 = 1UL << 32;

    /// <summary>
    /// A counter that went down either wrapped at 32 bits (old kernels keep some counters in u32: the previous
    /// value sat in the upper half, the new one is small) or was reset (reboot, namespace or interface
    /// recreated), in which case everything counted since the reset is the new value itself.
    /// </summary>
    public static ulong Delta(ulong previous, ulong current)
    {
        if (current >= previous) return current - previous;
        if (previous < Wrap32 && previous >= Wrap32 / 2 && current < Wrap32 / 2)
            return Wrap32 - previous + current;
        return current;
    }

    /// <summary>Counters present in both and changed; new counters are a baseline, vanished ones are forgotten.</summary>
    public static List<CounterDelta> Between(CounterSnapshot previous, CounterSnapshot current, long atUnixMs)
    {
        var deltas = new List<CounterDelta>();
        foreach (var (name, value) in current.Values)
        {
            if (!previous.Values.TryGetValue(name, out var before) || before == value) continue;
            var delta = Delta(before, value);
            if (delta != 0) deltas.Add(new CounterDelta(name, (long)Math.Min(delta, long.MaxValue), atUnixMs));
        }
        deltas.Sort(static (a, b) => string.CompareOrdinal(a.Name, b.Name));
        return deltas;
    }
}
