using System.Buffers.Binary;

namespace DropBoard.Agent.Netlink;

/// <summary>Netlink and generic-netlink framing (include/uapi/linux/netlink.h, genetlink.h).</summary>
public static class NetlinkProtocol
{
    public const int NETLINK_ROUTE = 0, NETLINK_NETFILTER = 12, NETLINK_GENERIC = 16;
    public const int HeaderSize = 16, GenlHeaderSize = 4;

    // nlmsghdr.nlmsg_type values below NLMSG_MIN_TYPE (0x10) are control messages.
    public const ushort NLMSG_NOOP = 1, NLMSG_ERROR = 2, NLMSG_DONE = 3;
    public const ushort NLM_F_REQUEST = 0x1, NLM_F_ACK = 0x4, NLM_F_DUMP = 0x300;
    // Flags on an NLMSG_ERROR reply: the request was not echoed back (CAP_ACK); extended-ack attributes follow.
    public const ushort NLM_F_CAPPED = 0x100, NLM_F_ACK_TLVS = 0x200;
    public const int NLMSGERR_ATTR_MSG = 1;

    // Socket options (SOL_NETLINK).
    public const int NETLINK_ADD_MEMBERSHIP = 1, NETLINK_DROP_MEMBERSHIP = 2, NETLINK_CAP_ACK = 10, NETLINK_EXT_ACK = 11;

    // The generic-netlink controller (genetlink.h): resolves family names to ids and multicast groups.
    public const ushort GENL_ID_CTRL = 0x10;
    public const byte CTRL_CMD_NEWFAMILY = 1, CTRL_CMD_GETFAMILY = 3;
    public const ushort CTRL_ATTR_FAMILY_ID = 1, CTRL_ATTR_FAMILY_NAME = 2, CTRL_ATTR_VERSION = 3, CTRL_ATTR_MCAST_GROUPS = 7;
    public const ushort CTRL_ATTR_MCAST_GRP_NAME = 1, CTRL_ATTR_MCAST_GRP_ID = 2;

    public static int Align(int length) => (length + 3) & ~3;
}

/// <summary>One message of a netlink datagram (struct nlmsghdr and what follows it).</summary>
public readonly ref struct NetlinkMessage(ushort type, ushort flags, uint sequence, uint portId, ReadOnlySpan<byte> body, ReadOnlySpan<byte> bodyToDatagramEnd)
{
    public ushort Type { get; } = type;
    public ushort Flags { get; } = flags;
    public uint Sequence { get; } = sequence;
    public uint PortId { get; } = portId;

    /// <summary>The bytes after the header, as nlmsg_len counts them.</summary>
    public ReadOnlySpan<byte> Body { get; } = body;

    /// <summary>
    /// The bytes after the header up to the end of the datagram. Kernels before 4.x never updated nlmsg_len
    /// of a NET_DM summary alert as drop points were added, so its points lie beyond <see cref="Body"/>.
    /// </summary>
    public ReadOnlySpan<byte> BodyToDatagramEnd { get; } = bodyToDatagramEnd;

    /// <summary>The generic-netlink command (genlmsghdr.cmd).</summary>
    public byte GenlCommand => Body.Length >= NetlinkProtocol.GenlHeaderSize
        ? Body[0]
        : throw new NetlinkParseException($"message type {Type} has {Body.Length} bytes, less than a generic-netlink header");

    /// <summary>The attributes after the generic-netlink header.</summary>
    public NetlinkAttributeReader GenlAttributes()
    {
        _ = GenlCommand;
        return new NetlinkAttributeReader(Body[NetlinkProtocol.GenlHeaderSize..]);
    }

    /// <summary>For NLMSG_DONE: a dump that failed half-way ends with a negative errno in place of 0.</summary>
    public (int Errno, string? Message) DoneError() =>
        Body.Length >= 4 ? (-BinaryPrimitives.ReadInt32LittleEndian(Body), null) : (0, null);

    /// <summary>The attributes after a protocol's fixed header of <paramref name="headerSize"/> bytes (tcmsg, ifinfomsg, nfgenmsg).</summary>
    public NetlinkAttributeReader Attributes(int headerSize) =>
        Body.Length >= headerSize
            ? new NetlinkAttributeReader(Body[Math.Min(NetlinkProtocol.Align(headerSize), Body.Length)..])
            : throw new NetlinkParseException($"message type {Type} has {Body.Length} bytes, less than its {headerSize}-byte header");

    /// <summary>For NLMSG_ERROR: the errno (0 is an acknowledgement) and the kernel's extended-ack text, if any.</summary>
    public (int Errno, string? Message) Error()
    {
        if (Body.Length < 4)
            throw new NetlinkParseException($"an error message of {Body.Length} bytes has no error code");
        var errno = -BinaryPrimitives.ReadInt32LittleEndian(Body);
        if ((Flags & NetlinkProtocol.NLM_F_ACK_TLVS) == 0) return (errno, null);
        if (Body.Length < 4 + NetlinkProtocol.HeaderSize)
            throw new NetlinkParseException($"an error message of {Body.Length} bytes is shorter than struct nlmsgerr");
        // The request's header is echoed, and its payload too unless the reply is capped.
        var attributesAt = 4 + ((Flags & NetlinkProtocol.NLM_F_CAPPED) != 0
            ? NetlinkProtocol.HeaderSize
            : NetlinkProtocol.Align((int)Math.Min(BinaryPrimitives.ReadUInt32LittleEndian(Body[4..]), int.MaxValue - 4)));
        if (attributesAt > Body.Length)
            throw new NetlinkParseException($"an error message of {Body.Length} bytes echoes a {attributesAt - 4}-byte request");
        string? text = null;
        foreach (var attribute in new NetlinkAttributeReader(Body[attributesAt..]))
            if (attribute.Type == NetlinkProtocol.NLMSGERR_ATTR_MSG) text = attribute.String();
        return (errno, text);
    }
}

/// <summary>Walks the messages of one received datagram, checking every nlmsg_len against what arrived.</summary>
public ref struct NetlinkDatagram(ReadOnlySpan<byte> datagram)
{
    private ReadOnlySpan<byte> _rest = datagram;

    public NetlinkMessage Current { get; private set; }

    public bool MoveNext()
    {
        if (_rest.IsEmpty) return false;
        if (_rest.Length < NetlinkProtocol.HeaderSize)
            throw new NetlinkParseException($"{_rest.Length} trailing bytes, less than a netlink header");
        var length = BinaryPrimitives.ReadUInt32LittleEndian(_rest);
        if (length < NetlinkProtocol.HeaderSize || length > _rest.Length)
            throw new NetlinkParseException($"netlink message claims {length} bytes with {_rest.Length} left");
        Current = new NetlinkMessage(
            BinaryPrimitives.ReadUInt16LittleEndian(_rest[4..]),
            BinaryPrimitives.ReadUInt16LittleEndian(_rest[6..]),
            BinaryPrimitives.ReadUInt32LittleEndian(_rest[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(_rest[12..]),
            _rest[NetlinkProtocol.HeaderSize..(int)length],
            _rest[NetlinkProtocol.HeaderSize..]);
        var aligned = NetlinkProtocol.Align((int)length);
        _rest = aligned >= _rest.Length ? [] : _rest[aligned..];
        return true;
    }

    public readonly NetlinkDatagram GetEnumerator() => this;
}
