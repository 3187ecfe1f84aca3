using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace DropBoard.Agent.Capture.Bpf;

/// <summary>One entry of the kernel's drop map: the program's <c>struct drop_key</c> (24 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Size = Size)]
public readonly record struct DropKey(ulong Location, uint Reason, uint Netns, ushort Protocol)
{
    public const int Size = 24;

    public static DropKey Read(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(bytes),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]),
        BinaryPrimitives.ReadUInt16LittleEndian(bytes[16..]));
}

/// <summary>
/// Turns reads of the kernel's cumulative per-CPU drop counts into the drops since the previous read. Pure: it sees
/// the map's bytes, never the kernel. Entries are never deleted in the kernel (deleting would race with the CPUs
/// still counting into them), so a key's total only grows; a total that went down means the map was replaced, and
/// its whole count is new. Each CPU's value is the program's <c>struct drop_count</c>: the drops, then how many of
/// them were sampled as flows (<see cref="ValueSize"/> bytes).
/// </summary>
public sealed class DropMapDeltas(int cpus)
{
    /// <summary>Bytes of one CPU's value: two u64.</summary>
    public const int ValueSize = 16;

    private readonly Dictionary<DropKey, (ulong Drops, ulong Sampled)> _totals = [];

    public int Cpus { get; } = cpus;

    /// <summary>Distinct keys seen so far.</summary>
    public int Keys => _totals.Count;

    /// <summary>Each key's drops at the last read, summed over every CPU: the per-namespace view of what was counted.</summary>
    public IReadOnlyDictionary<DropKey, ulong> Totals => _totals.ToDictionary(t => t.Key, t => t.Value.Drops);

    /// <summary>Each key's drops sampled as flows at the last read; the rest of its drops were not.</summary>
    public IReadOnlyDictionary<DropKey, ulong> SampledTotals => _totals.ToDictionary(t => t.Key, t => t.Value.Sampled);

    /// <summary>
    /// Takes one entry's per-CPU values (<see cref="Cpus"/> of them, <see cref="ValueSize"/> bytes each) and returns
    /// the drops, and the sampled drops, since the previous read of that key.
    /// </summary>
    public (long Drops, long Sampled) Update(DropKey key, ReadOnlySpan<byte> perCpuValues)
    {
        ulong drops = 0, sampled = 0;
        for (var cpu = 0; cpu < Cpus; cpu++)
        {
            drops += BinaryPrimitives.ReadUInt64LittleEndian(perCpuValues[(cpu * ValueSize)..]);
            sampled += BinaryPrimitives.ReadUInt64LittleEndian(perCpuValues[(cpu * ValueSize + 8)..]);
        }
        ref var last = ref CollectionsMarshal.GetValueRefOrAddDefault(_totals, key, out _);
        var replaced = drops < last.Drops || sampled < last.Sampled;
        var delta = replaced ? (drops, sampled) : (drops - last.Drops, sampled - last.Sampled);
        last = (drops, sampled);
        return ((long)delta.Item1, (long)delta.Item2);
    }

    private readonly Dictionary<ulong, ulong> _frees = [];

    /// <summary>Each location's normal frees (consume_skb) at the last read, with --consume.</summary>
    public IReadOnlyDictionary<ulong, ulong> FreeTotals => _frees;

    /// <summary>Takes one entry of the frees map (a u64 a CPU) and returns the frees at that location since the previous read.</summary>
    public long UpdateFrees(ulong location, ReadOnlySpan<byte> perCpuValues) => Advance(_frees, location, Sum(perCpuValues));

    private readonly Dictionary<PathKey, ulong> _paths = [];

    /// <summary>Each path's drops (site, reason, namespace, stack id) at the last read, with --stacks.</summary>
    public IReadOnlyDictionary<PathKey, ulong> PathTotals => _paths;

    /// <summary>Takes one entry of the path map (a u64 a CPU) and returns the drops on that path since the previous read.</summary>
    public long UpdatePaths(PathKey key, ReadOnlySpan<byte> perCpuValues) => Advance(_paths, key, Sum(perCpuValues));

    private static long Advance<TKey>(Dictionary<TKey, ulong> totals, TKey key, ulong total) where TKey : notnull
    {
        ref var last = ref CollectionsMarshal.GetValueRefOrAddDefault(totals, key, out _);
        var delta = total >= last ? total - last : total;
        last = total;
        return (long)delta;
    }

    /// <summary>Sum of a per-CPU u64 (the overflow count, a free count: 8 bytes a CPU).</summary>
    public ulong Sum(ReadOnlySpan<byte> perCpuValues)
    {
        ulong total = 0;
        for (var cpu = 0; cpu < Cpus; cpu++)
            total += BinaryPrimitives.ReadUInt64LittleEndian(perCpuValues[(cpu * 8)..]);
        return total;
    }
}
