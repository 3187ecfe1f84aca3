using DropBoard.Agent.Netlink;
using System.Buffers.Binary;
using static DropBoard.Agent.Capture.NetDm.NetDmProtocol;

namespace DropBoard.Agent.Capture.NetDm;

/// <summary>A summary-mode drop point: <paramref name="Count"/> drops at kernel text address <paramref name="Pc"/> (0: seen in hardware).</summary>
public readonly record struct DropPoint(ulong Pc, uint Count);

/// <summary>A hardware trap's count in a summary alert (devlink trap drops, NET_DM_ATTR_HW_ENTRY).</summary>
public readonly record struct HardwareTrapCount(string TrapName, uint Count);

/// <summary>One NET_DM_CMD_ALERT. <paramref name="Problem"/> says what was cut short; the points before it are whole.</summary>
public sealed record SummaryAlert(IReadOnlyList<DropPoint> Points, IReadOnlyList<HardwareTrapCount> HardwareTraps, string? Problem);

/// <summary>
/// One NET_DM_CMD_PACKET_ALERT: a single dropped packet. Spans point into the received datagram (no copies on
/// the hot path); take what must outlive it with the string/array helpers.
/// </summary>
public ref struct PacketAlert
{
    public ushort Origin;
    public ulong Pc;
    public ReadOnlySpan<byte> Symbol;
    public uint InPortIfIndex;
    public ReadOnlySpan<byte> InPortName;
    /// <summary>Wall-clock time of the drop (the kernel stamps skb->tstamp with ktime_get_real), 0 when absent.</summary>
    public ulong TimestampNs;
    /// <summary>skb->protocol (EtherType), 0 when absent (the kernel omits it with the payload).</summary>
    public ushort Protocol;
    public uint OriginalLength;
    /// <summary>The drop reason's name (NET_DM_ATTR_REASON, Linux 5.18+), empty on older kernels.</summary>
    public ReadOnlySpan<byte> Reason;
    /// <summary>The packet from its MAC header, truncated to the configured length.</summary>
    public ReadOnlySpan<byte> Payload;
    public ReadOnlySpan<byte> HardwareTrapGroup;
    public ReadOnlySpan<byte> HardwareTrapName;

    public readonly bool IsHardware => Origin == ORIGIN_HW;
}

/// <summary>
/// Parsers of what the NET_DM family multicasts. Pure functions over received bytes: tested on messages recorded
/// from a real kernel, fuzzed with mutations of them. Malformed input raises <see cref="NetlinkParseException"/> only.
/// </summary>
public static class NetDmAlerts
{
    public static SummaryAlert ParseSummary(NetlinkMessage message)
    {
        var body = message.Body;
        if (body.Length < NetlinkProtocol.GenlHeaderSize)
            throw new NetlinkParseException($"a {body.Length}-byte alert has no generic-netlink header");
        // Old kernels grew the alert attribute without updating nlmsg_len: follow the attribute's own length.
        if (body.Length >= NetlinkProtocol.GenlHeaderSize + 4
            && BinaryPrimitives.ReadUInt16LittleEndian(body[NetlinkProtocol.GenlHeaderSize..]) > body.Length - NetlinkProtocol.GenlHeaderSize)
            body = message.BodyToDatagramEnd;

        var points = new List<DropPoint>();
        var traps = new List<HardwareTrapCount>();
        string? problem = null;
        foreach (var attribute in new NetlinkAttributeReader(body[NetlinkProtocol.GenlHeaderSize..]))
        {
            if (attribute.Type == ATTR_UNSPEC)
                problem ??= ReadDropPoints(attribute.Payload, points);
            else if (attribute.Type == ATTR_HW_ENTRIES)
                foreach (var entry in attribute.Nested())
                {
                    if (entry.Type != ATTR_HW_ENTRY) continue;
                    string? name = null;
                    uint count = 0;
                    foreach (var field in entry.Nested())
                    {
                        if (field.Type == ATTR_HW_TRAP_NAME) name = field.String();
                        else if (field.Type == ATTR_HW_TRAP_COUNT) count = field.U32();
                    }
                    if (name is null) throw new NetlinkParseException("a hardware entry without a trap name");
                    traps.Add(new HardwareTrapCount(name, count));
                }
        }
        return new SummaryAlert(points, traps, problem);
    }

    // struct net_dm_alert_msg { u32 entries; struct net_dm_drop_point points[]; }, host byte order.
    private static string? ReadDropPoints(ReadOnlySpan<byte> alert, List<DropPoint> points)
    {
        if (alert.Length < 4) throw new NetlinkParseException($"a {alert.Length}-byte alert message has no entry count");
        var entries = BinaryPrimitives.ReadUInt32LittleEndian(alert);
        var fit = (alert.Length - 4) / DropPointSize;
        var whole = (int)Math.Min(entries, (uint)fit);
        for (var i = 0; i < whole; i++)
        {
            var point = alert.Slice(4 + i * DropPointSize, DropPointSize);
            points.Add(new DropPoint(BinaryPrimitives.ReadUInt64LittleEndian(point), BinaryPrimitives.ReadUInt32LittleEndian(point[8..])));
        }
        return entries > (uint)fit ? $"the alert claims {entries} drop points, {fit} fit in its {alert.Length} bytes" : null;
    }

    public static PacketAlert ParsePacket(NetlinkMessage message)
    {
        var alert = new PacketAlert();
        var hasPc = false;
        foreach (var attribute in message.GenlAttributes())
        {
            switch (attribute.Type)
            {
                case ATTR_ORIGIN: alert.Origin = attribute.U16(); break;
                case ATTR_PC: alert.Pc = attribute.U64(); hasPc = true; break;
                case ATTR_SYMBOL: alert.Symbol = attribute.StringBytes(); break;
                case ATTR_IN_PORT:
                    foreach (var port in attribute.Nested())
                    {
                        if (port.Type == ATTR_PORT_NETDEV_IFINDEX) alert.InPortIfIndex = port.U32();
                        else if (port.Type == ATTR_PORT_NETDEV_NAME) alert.InPortName = port.StringBytes();
                    }
                    break;
                case ATTR_TIMESTAMP: alert.TimestampNs = attribute.U64(); break;
                case ATTR_PROTO: alert.Protocol = attribute.U16(); break;
                case ATTR_ORIG_LEN: alert.OriginalLength = attribute.U32(); break;
                case ATTR_REASON: alert.Reason = attribute.StringBytes(); break;
                case ATTR_PAYLOAD: alert.Payload = attribute.Payload; break;
                case ATTR_HW_TRAP_GROUP_NAME: alert.HardwareTrapGroup = attribute.StringBytes(); break;
                case ATTR_HW_TRAP_NAME: alert.HardwareTrapName = attribute.StringBytes(); break;
            }
        }
        if (alert.IsHardware ? alert.HardwareTrapName.IsEmpty : !hasPc)
            throw new NetlinkParseException(alert.IsHardware ? "a hardware packet alert without a trap name" : "a packet alert without a program counter");
        return alert;
    }

    /// <summary>NET_DM_CMD_CONFIG_NEW: the monitor's current alert mode, truncation and queue length.</summary>
    public static (NetDmMode Mode, uint TruncateBytes, uint QueueLength) ParseConfig(NetlinkMessage message)
    {
        var (mode, truncate, queue) = (NetDmMode.Summary, 0u, 0u);
        foreach (var attribute in message.GenlAttributes())
        {
            switch (attribute.Type)
            {
                case ATTR_ALERT_MODE: mode = (NetDmMode)attribute.U8(); break;
                case ATTR_TRUNC_LEN: truncate = attribute.U32(); break;
                case ATTR_QUEUE_LEN: queue = attribute.U32(); break;
            }
        }
        return (mode, truncate, queue);
    }

    /// <summary>NET_DM_CMD_STATS_NEW: packets the monitor itself dropped because its queue was full (software, hardware).</summary>
    public static (ulong Software, ulong Hardware) ParseStats(NetlinkMessage message)
    {
        ulong software = 0, hardware = 0;
        foreach (var attribute in message.GenlAttributes())
        {
            if (attribute.Type is not (ATTR_STATS or ATTR_HW_STATS)) continue;
            foreach (var stat in attribute.Nested())
                if (stat.Type == ATTR_STATS_DROPPED)
                {
                    if (attribute.Type == ATTR_STATS) software = stat.U64();
                    else hardware = stat.U64();
                }
        }
        return (software, hardware);
    }
}
