using System.Buffers.Binary;
using System.Text;

namespace DropBoard.Agent.Netlink;

/// <summary>
/// One netlink attribute (struct nlattr: u16 length, u16 type, payload padded to 4 bytes; include/uapi/linux/netlink.h).
/// Every accessor checks the payload's size before reading it.
/// </summary>
public readonly ref struct NetlinkAttribute(ushort type, ReadOnlySpan<byte> payload)
{
    private const ushort NLA_F_NET_BYTEORDER = 0x4000, NLA_TYPE_MASK = 0x3fff;

    /// <summary>The attribute type without the nested / byte-order flag bits.</summary>
    public ushort Type { get; } = (ushort)(type & NLA_TYPE_MASK);

    public bool IsNetByteOrder { get; } = (type & NLA_F_NET_BYTEORDER) != 0;

    public ReadOnlySpan<byte> Payload { get; } = payload;

    public byte U8() => Fixed(1)[0];

    public ushort U16() => IsNetByteOrder ? BinaryPrimitives.ReadUInt16BigEndian(Fixed(2)) : BinaryPrimitives.ReadUInt16LittleEndian(Fixed(2));

    public uint U32() => IsNetByteOrder ? BinaryPrimitives.ReadUInt32BigEndian(Fixed(4)) : BinaryPrimitives.ReadUInt32LittleEndian(Fixed(4));

    public ulong U64() => IsNetByteOrder ? BinaryPrimitives.ReadUInt64BigEndian(Fixed(8)) : BinaryPrimitives.ReadUInt64LittleEndian(Fixed(8));

    /// <summary>nftables and ctnetlink put their numbers in network byte order without setting NLA_F_NET_BYTEORDER.</summary>
    public uint U32BigEndian() => BinaryPrimitives.ReadUInt32BigEndian(Fixed(4));

    public ulong U64BigEndian() => BinaryPrimitives.ReadUInt64BigEndian(Fixed(8));

    /// <summary>A NUL-terminated string's bytes without the NUL (a missing terminator is tolerated).</summary>
    public ReadOnlySpan<byte> StringBytes()
    {
        var end = Payload.IndexOf((byte)0);
        return end < 0 ? Payload : Payload[..end];
    }

    public string String() => Encoding.UTF8.GetString(StringBytes());

    /// <summary>The attributes nested inside this one.</summary>
    public NetlinkAttributeReader Nested() => new(Payload);

    private ReadOnlySpan<byte> Fixed(int size) =>
        Payload.Length >= size
            ? Payload[..size]
            : throw new NetlinkParseException($"attribute {Type} holds {Payload.Length} bytes, a {size}-byte value was expected");
}

/// <summary>
/// Walks a run of netlink attributes. Bounds-checked TLV reader: a length shorter than the header or longer
/// than what is left is a <see cref="NetlinkParseException"/>, never a read past the buffer.
/// </summary>
public ref struct NetlinkAttributeReader(ReadOnlySpan<byte> attributes)
{
    private const int HeaderSize = 4;
    private ReadOnlySpan<byte> _rest = attributes;

    public NetlinkAttribute Current { get; private set; }

    public bool MoveNext()
    {
        if (_rest.IsEmpty) return false;
        if (_rest.Length < HeaderSize)
            throw new NetlinkParseException($"{_rest.Length} trailing bytes, less than an attribute header");
        var length = BinaryPrimitives.ReadUInt16LittleEndian(_rest);
        var type = BinaryPrimitives.ReadUInt16LittleEndian(_rest[2..]);
        if (length < HeaderSize || length > _rest.Length)
            throw new NetlinkParseException($"attribute {type & 0x3fff} claims {length} bytes with {_rest.Length} left");
        Current = new NetlinkAttribute(type, _rest[HeaderSize..length]);
        var aligned = NetlinkProtocol.Align(length);
        // The last attribute's padding may be cut off by the message end; that is fine.
        _rest = aligned >= _rest.Length ? [] : _rest[aligned..];
        return true;
    }

    public readonly NetlinkAttributeReader GetEnumerator() => this;
}
