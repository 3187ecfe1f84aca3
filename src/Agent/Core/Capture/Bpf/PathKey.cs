using System.Buffers.Binary;

namespace DropBoard.Agent.Capture.Bpf;

/// <summary>
/// One entry of the kernel's path map (<c>--stacks</c>): the program's <c>struct path_key</c> (24 bytes). A negative
/// <see cref="StackId"/> is the errno <c>bpf_get_stackid</c> returned: the drops of that key have no stack to show.
/// </summary>
public readonly record struct PathKey(ulong Location, uint Reason, uint Netns, int StackId)
{
    public const int Size = 24;

    public static PathKey Read(ReadOnlySpan<byte> bytes) => new(
        BinaryPrimitives.ReadUInt64LittleEndian(bytes),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]),
        BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]),
        BinaryPrimitives.ReadInt32LittleEndian(bytes[16..]));
}

/// <summary>The kernel's stack map (<c>--stacks</c>): return addresses, innermost first. Pure: it sees the map's bytes.</summary>
public static class KernelStack
{
    /// <summary>Frames the program keeps a stack (its <c>STACK_DEPTH</c>): the map's value is this many u64.</summary>
    public const int Depth = 24;

    public const int ValueSize = Depth * 8;

    /// <summary>The addresses of one stack map value; the kernel zeroes the slots past the stack's end.</summary>
    public static ulong[] Read(ReadOnlySpan<byte> value)
    {
        var frames = new List<ulong>(Depth);
        for (var i = 0; i + 8 <= value.Length && frames.Count < Depth; i += 8)
        {
            var pc = BinaryPrimitives.ReadUInt64LittleEndian(value[i..]);
            if (pc == 0) break;
            frames.Add(pc);
        }
        return [.. frames];
    }

    /// <summary>
    /// The path from a drop site outwards: the frames from the site's own return address on (the frames above it are
    /// the tracing machinery, kfree_skb and the program), or all of them when the site is not among them.
    /// </summary>
    public static ReadOnlySpan<ulong> FromSite(ulong[] frames, ulong location)
    {
        var at = Array.IndexOf(frames, location);
        return at < 0 ? frames : frames.AsSpan(at);
    }

    /// <summary>Why a drop has no stack, from the negative id <c>bpf_get_stackid</c> returned.</summary>
    public static string Missing(int stackId) => -stackId switch
    {
        17 => "EEXIST", // another stack holds its bucket: stack ids are kept, so it is not replaced
        12 => "ENOMEM", // the stack map is out of room
        14 => "EFAULT", // the stack could not be walked
        var errno => $"ERRNO{errno}",
    };
}
