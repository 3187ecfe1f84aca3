using System.Buffers.Binary;
using System.Text;

namespace DropBoard.Agent.Netlink;

/// <summary>Builds one netlink request: nlmsghdr, the family's own header (genlmsghdr, tcmsg, nfgenmsg…), attributes.</summary>
public sealed class NetlinkRequest
{
    private readonly List<byte> _bytes = new(64);

    /// <param name="familyHeader">The fixed header the protocol expects after nlmsghdr, in host byte order as the kernel reads it.</param>
    public NetlinkRequest(ushort type, ushort flags, ReadOnlySpan<byte> familyHeader, uint sequence = 0)
    {
        Span<byte> header = stackalloc byte[NetlinkProtocol.HeaderSize];
        header.Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], flags);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], sequence);
        _bytes.AddRange(header);
        _bytes.AddRange(familyHeader);
        while (_bytes.Count % 4 != 0) _bytes.Add(0);
    }

    /// <summary>A generic-netlink request: genlmsghdr is the command, the family's version and two reserved bytes.</summary>
    public static NetlinkRequest Genl(ushort family, byte command, byte version, uint sequence, ushort flags = NetlinkProtocol.NLM_F_REQUEST | NetlinkProtocol.NLM_F_ACK) =>
        new(family, flags, [command, version, 0, 0], sequence);

    public NetlinkRequest Flag(ushort type) => Attribute(type, []);

    public NetlinkRequest U8(ushort type, byte value) => Attribute(type, [value]);

    public NetlinkRequest U32(ushort type, uint value)
    {
        Span<byte> v = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(v, value);
        return Attribute(type, v);
    }

    public NetlinkRequest String(ushort type, string value) => Attribute(type, Encoding.UTF8.GetBytes(value + "\0"));

    public NetlinkRequest Attribute(ushort type, ReadOnlySpan<byte> payload)
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
