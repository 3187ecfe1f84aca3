using System.Buffers.Binary;
using System.Text;
using DropBoard.Agent.Netlink;

namespace DropBoard.Agent.Counters;

/// <summary>
/// Parsers for rtnetlink dump replies (include/uapi/linux/rtnetlink.h, if_link.h, pkt_sched.h, gen_stats.h).
/// Pure: the bytes of the datagrams the kernel sent in, counters out, so they are tested on recorded dumps.
/// </summary>
public static class RtnetlinkCounters
{
    public const ushort RTM_NEWLINK = 16, RTM_GETLINK = 18, RTM_NEWQDISC = 36, RTM_GETQDISC = 38;

    /// <summary>struct ifinfomsg: family, pad, type, index, flags, change.</summary>
    public const int IfinfomsgSize = 16;

    /// <summary>struct tcmsg: family, pads, ifindex, handle, parent, info.</summary>
    public const int TcmsgSize = 20;

    private const ushort IFLA_IFNAME = 3, IFLA_STATS64 = 23;
    private const ushort TCA_KIND = 1, TCA_STATS2 = 7;
    private const ushort TCA_STATS_QUEUE = 3;
    private const uint TC_H_ROOT = 0xFFFFFFFF, TC_H_INGRESS = 0xFFFFFFF1;

    /// <summary>
    /// The members of struct rtnl_link_stats64 that /proc/net/dev folds into one column or leaves out, by their
    /// offset (u64 each) and the name of their file under /sys/class/net/DEV/statistics. The columns
    /// /proc/net/dev prints as they are (rx_bytes, tx_dropped…) come from there, under its names.
    /// </summary>
    private static readonly (int Offset, string Name)[] LinkDetail =
    [
        (10 * 8, "rx_length_errors"), (11 * 8, "rx_over_errors"), (12 * 8, "rx_crc_errors"), (13 * 8, "rx_frame_errors"),
        (15 * 8, "rx_missed_errors"), (16 * 8, "tx_aborted_errors"), (17 * 8, "tx_carrier_errors"),
        (19 * 8, "tx_heartbeat_errors"), (20 * 8, "tx_window_errors"), (23 * 8, "rx_nohandler"), (24 * 8, "rx_otherhost_dropped"),
    ];

    public static byte[] LinkDumpRequest() =>
        new NetlinkRequest(RTM_GETLINK, NetlinkProtocol.NLM_F_REQUEST | NetlinkProtocol.NLM_F_DUMP, stackalloc byte[IfinfomsgSize]).ToArray();

    public static byte[] QdiscDumpRequest() =>
        new NetlinkRequest(RTM_GETQDISC, NetlinkProtocol.NLM_F_REQUEST | NetlinkProtocol.NLM_F_DUMP, stackalloc byte[TcmsgSize]).ToArray();

    /// <summary>
    /// One datagram of an RTM_GETLINK dump: each device's name by index into <paramref name="devices"/>, and its
    /// <c>Dev.DEV.*</c> detail counters from IFLA_STATS64 (kernels before 4.6 have a shorter struct: the members it
    /// lacks are not stored).
    /// </summary>
    public static void ParseLinks(ReadOnlySpan<byte> datagram, Dictionary<int, string> devices, CounterSnapshot into)
    {
        Span<char> name = stackalloc char[128];
        foreach (var message in new NetlinkDatagram(datagram))
        {
            if (message.Type != RTM_NEWLINK) continue;
            var index = BinaryPrimitives.ReadInt32LittleEndian(Header(message, IfinfomsgSize)[4..]);
            string? device = null;
            ReadOnlySpan<byte> stats = default;
            foreach (var attribute in message.Attributes(IfinfomsgSize))
            {
                if (attribute.Type == IFLA_IFNAME) device = DeviceName(attribute.StringBytes());
                else if (attribute.Type == IFLA_STATS64) stats = attribute.Payload;
            }
            if (device is null)
            {
                into.Problems.Add($"rtnetlink: device {index} has no name");
                continue;
            }
            devices[index] = device;
            foreach (var (offset, stat) in LinkDetail)
                if (offset + 8 <= stats.Length && name.TryWrite($"Dev.{device}.{stat}", out var length))
                    into.Set(name[..length], BinaryPrimitives.ReadUInt64LittleEndian(stats[offset..]));
        }
    }

    /// <summary>
    /// One datagram of an RTM_GETQDISC dump: <c>Qdisc.DEV.HANDLE.dropped|overlimits|requeues</c> (counters) and
    /// <c>backlog_bytes|backlog_packets</c> (gauges) from TCA_STATS2's gnet_stats_queue. HANDLE is written as tc
    /// prints it (<see cref="HandleText"/>). <paramref name="devices"/> comes from the link dump before it.
    /// </summary>
    public static void ParseQdiscs(ReadOnlySpan<byte> datagram, IReadOnlyDictionary<int, string> devices, CounterSnapshot into)
    {
        Span<char> name = stackalloc char[160];
        Span<char> handleText = stackalloc char[32];
        foreach (var message in new NetlinkDatagram(datagram))
        {
            if (message.Type != RTM_NEWQDISC) continue;
            var header = Header(message, TcmsgSize);
            var index = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
            var handle = BinaryPrimitives.ReadUInt32LittleEndian(header[8..]);
            var parent = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
            ReadOnlySpan<byte> queue = default;
            foreach (var attribute in message.Attributes(TcmsgSize))
            {
                if (attribute.Type != TCA_STATS2) continue;
                foreach (var stat in attribute.Nested())
                    if (stat.Type == TCA_STATS_QUEUE) queue = stat.Payload;
            }
            if (!devices.TryGetValue(index, out var device))
            {
                // A device added between the two dumps: its qdiscs are read next time.
                continue;
            }
            if (queue.Length < 20)
            {
                into.Problems.Add($"rtnetlink: qdisc {HandleString(handle, parent)} of {device} has no queue statistics (TCA_STATS_QUEUE of {queue.Length} bytes)");
                continue;
            }
            var handleLength = HandleText(handle, parent, handleText);
            var h = handleText[..handleLength];
            // struct gnet_stats_queue { u32 qlen, backlog, drops, requeues, overlimits; }
            Store(into, name, device, h, "backlog_packets", queue);
            Store(into, name, device, h, "backlog_bytes", queue[4..]);
            Store(into, name, device, h, "dropped", queue[8..]);
            Store(into, name, device, h, "requeues", queue[12..]);
            Store(into, name, device, h, "overlimits", queue[16..]);
        }
    }

    private static void Store(CounterSnapshot into, Span<char> name, string device, ReadOnlySpan<char> handle, string stat, ReadOnlySpan<byte> value)
    {
        if (name.TryWrite($"Qdisc.{device}.{handle}.{stat}", out var length))
            into.Set(name[..length], BinaryPrimitives.ReadUInt32LittleEndian(value));
    }

    /// <summary>
    /// A qdisc's handle as tc prints it, major number in hex and a colon: <c>8001:</c>, <c>ffff:</c> (ingress),
    /// <c>1:</c>. A qdisc the kernel made itself has handle 0, and a multiqueue device has one per queue: those are
    /// told apart by their parent, as tc shows it, after <c>parent</c>: <c>0:parent:3</c>, <c>0:parent1:3</c>;
    /// the root's is plain <c>0:</c>. Stable while the qdisc exists; a replaced qdisc gets a new handle.
    /// </summary>
    public static int HandleText(uint handle, uint parent, Span<char> into)
    {
        var written = 0;
        into.TryWrite($"{handle >> 16:x}:", out written);
        if (handle != 0 || parent is TC_H_ROOT or TC_H_INGRESS) return written;
        into[written..].TryWrite($"parent{(parent >> 16 == 0 ? "" : (parent >> 16).ToString("x"))}:{parent & 0xFFFF:x}", out var more);
        return written + more;
    }

    private static string HandleString(uint handle, uint parent)
    {
        Span<char> text = stackalloc char[32];
        return text[..HandleText(handle, parent, text)].ToString();
    }

    private static ReadOnlySpan<byte> Header(NetlinkMessage message, int size) =>
        message.Body.Length >= size
            ? message.Body[..size]
            : throw new NetlinkParseException($"rtnetlink message type {message.Type} has {message.Body.Length} bytes, less than its {size}-byte header");

    /// <summary>Device names are bytes the kernel never checks for UTF-8 (only no '/', ':' or whitespace).</summary>
    private static string DeviceName(ReadOnlySpan<byte> bytes) => Encoding.UTF8.GetString(bytes);
}
