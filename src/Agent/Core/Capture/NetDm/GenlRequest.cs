using System.Buffers.Binary;
using System.Text;

namespace DropBoard.Agent.Capture.NetDm;

/// <summary>Builds one generic-netlink request: nlmsghdr, genlmsghdr, attributes.</summary>
public sealed class GenlRequest
{
    private readonly List<byte> _bytes = new(64);

    public GenlRequest(ushort family, byte command, byte version, uint sequence, ushort flags = Netlink.NLM_F_REQUEST | Netlink.NLM_F_ACK)
    {
        Span<byte> header = stackalloc byte[Netlink.HeaderSize + Netlink.GenlHeaderSize];
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], family);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], sequence);
        header[16] = command;
        header[17] = version;
        _bytes.AddRange(header);
    }

    public GenlRequest Flag(ushort type) => Attribute(type, []);

    public GenlRequest U8(ushort type, byte value) => Attribute(type, [value]);

    public GenlRequest U32(ushort type, uint value)
    {
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(v, value);
        return Attribute(type, v);
    }

    public GenlRequest String(ushort type, string value) => Attribute(type, Encoding.UTF8.GetBytes(value + "\0"));

    public GenlRequest Attribute(ushort type, ReadOnlySpan<byte> payload)
    {
        Span<byte> header = stackalloc byte[4];
        BinaryPrimitives.WriteUInt16LittleEndian(header, (ushort)(4 + payload.Length));
        BinaryPrimitives.WriteUInt16LittleEndian(header[2..], type);
        _bytes.AddRange(header);
        _bytes.AddRange(payload);
        while (_bytes.Count % 4 != 0) _bytes.Add(0);
        return this;
    }

    public byte[] ToArray()
    {
        var bytes = _bytes.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, (uint)bytes.Length);
        return bytes;
    }
}
