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
/// its whole count is new.
/// </summary>
public sealed class DropMapDeltas(int cpus)
{
    private readonly Dictionary<DropKey, ulong> _totals = [];

    public int Cpus { get; } = cpus;

    /// <summary>Distinct keys seen so far.</summary>
    public int Keys => _totals.Count;

    /// <summary>Each key's total at the last read, summed over every CPU: the per-namespace view of what was counted.</summary>
    public IReadOnlyDictionary<DropKey, ulong> Totals => _totals;

    /// <summary>
    /// Takes one entry's per-CPU values (each a u64 in an 8-byte slot, <see cref="Cpus"/> of them) and returns the
    /// drops since the previous read of that key.
    /// </summary>
    public long Update(DropKey key, ReadOnlySpan<byte> perCpuValues)
    {
        var total = Sum(perCpuValues);
        ref var last = ref CollectionsMarshal.GetValueRefOrAddDefault(_totals, key, out _);
        var delta = total >= last ? total - last : total;
        last = total;
        return (long)delta;
    }

    /// <summary>Sum of one entry's per-CPU values.</summary>
    public ulong Sum(ReadOnlySpan<byte> perCpuValues)
    {
        ulong total = 0;
        for (var cpu = 0; cpu < Cpus; cpu++)
            total += BinaryPrimitives.ReadUInt64LittleEndian(perCpuValues[(cpu * 8)..]);
        return total;
    }
}
