using System.Buffers.Binary;
using System.Text;

namespace DropBoard.Agent.Capture.NetDm;

/// <summary>
/// Dropped packets as a pcapng file (https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-01.html) for
/// Wireshark and tshark: one Ethernet interface with nanosecond timestamps, each packet with its drop site
/// and reason in the packet comment.
/// </summary>
public sealed class PcapngWriter : IDisposable
{
    private const uint SectionHeaderBlock = 0x0A0D0D0A, InterfaceDescriptionBlock = 1, EnhancedPacketBlock = 6;
    private const ushort OptEnd = 0, OptComment = 1, IfName = 2, IfTsResol = 9;
    private const ushort LinkTypeEthernet = 1;

    private readonly Stream _stream;
    private byte[] _block = new byte[4096];

    public long Packets { get; private set; }

    public PcapngWriter(Stream stream, string interfaceName, int snapLength)
    {
        _stream = stream;
        var length = 0;
        Begin(ref length, SectionHeaderBlock);
        Put32(ref length, 0x1A2B3C4D);
        Put16(ref length, 1);
        Put16(ref length, 0);
        Put32(ref length, uint.MaxValue); // section length unknown: -1 as a 64-bit value
        Put32(ref length, uint.MaxValue);
        Option(ref length, OptComment, Encoding.UTF8.GetBytes("dropped packets reported by the kernel's NET_DM drop monitor, captured by dropboard-agent"));
        End(ref length);

        Begin(ref length, InterfaceDescriptionBlock);
        Put16(ref length, LinkTypeEthernet);
        Put16(ref length, 0);
        Put32(ref length, (uint)snapLength);
        Option(ref length, IfName, Encoding.UTF8.GetBytes(interfaceName));
        Option(ref length, IfTsResol, [9]); // timestamps in nanoseconds
        End(ref length);
    }

    public static PcapngWriter Create(string path, int snapLength) =>
        new(new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16), "netdm", snapLength);

    /// <param name="frame">The packet from its Ethernet header, as captured (maybe truncated).</param>
    /// <param name="originalLength">The packet's length before truncation.</param>
    public void Write(ulong timestampNs, ReadOnlySpan<byte> frame, uint originalLength, string comment)
    {
        var commentBytes = Encoding.UTF8.GetBytes(comment);
        var needed = 64 + frame.Length + commentBytes.Length;
        if (_block.Length < needed) _block = new byte[Math.Max(needed, _block.Length * 2)];
        var length = 0;
        Begin(ref length, EnhancedPacketBlock);
        Put32(ref length, 0);
        Put32(ref length, (uint)(timestampNs >> 32));
        Put32(ref length, (uint)timestampNs);
        Put32(ref length, (uint)frame.Length);
        Put32(ref length, Math.Max(originalLength, (uint)frame.Length));
        frame.CopyTo(_block.AsSpan(length));
        length = Pad(length + frame.Length);
        Option(ref length, OptComment, commentBytes);
        End(ref length);
        Packets++;
    }

    /// <summary>Pushes what was written to the file, so a crash keeps every packet written so far.</summary>
    public void Flush() => _stream.Flush();

    public void Dispose()
    {
        _stream.Flush();
        _stream.Dispose();
    }

    private void Begin(ref int length, uint type)
    {
        length = 0;
        Put32(ref length, type);
        Put32(ref length, 0); // total length, set by End
    }

    private void End(ref int length)
    {
        Put16(ref length, OptEnd);
        Put16(ref length, 0);
        var total = (uint)(length + 4);
        BinaryPrimitives.WriteUInt32LittleEndian(_block.AsSpan(4), total);
        Put32(ref length, total);
        _stream.Write(_block, 0, length);
    }

    private void Option(ref int length, ushort code, ReadOnlySpan<byte> value)
    {
        Put16(ref length, code);
        Put16(ref length, (ushort)value.Length);
        value.CopyTo(_block.AsSpan(length));
        length = Pad(length + value.Length);
    }

    private int Pad(int length)
    {
        while (length % 4 != 0) _block[length++] = 0;
        return length;
    }

    private void Put16(ref int length, ushort value)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_block.AsSpan(length), value);
        length += 2;
    }

    private void Put32(ref int length, uint value)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_block.AsSpan(length), value);
        length += 4;
    }
}
