namespace DropBoard.Agent.Capture.NetDm;

/// <summary>
/// The NET_DM drop-monitor family's numbers, from include/uapi/linux/net_dropmon.h (Linux 6.1; the enums
/// only ever grew at their ends, so older kernels use a prefix of them).
/// </summary>
public static class NetDmProtocol
{
    public const string FamilyName = "NET_DM", EventsGroup = "events";

    // enum { NET_DM_CMD_UNSPEC = 0, ... }
    public const byte CMD_ALERT = 1, CMD_CONFIG = 2, CMD_START = 3, CMD_STOP = 4, CMD_PACKET_ALERT = 5,
        CMD_CONFIG_GET = 6, CMD_CONFIG_NEW = 7, CMD_STATS_GET = 8, CMD_STATS_NEW = 9;

    // enum net_dm_attr
    public const ushort ATTR_UNSPEC = 0, ATTR_ALERT_MODE = 1, ATTR_PC = 2, ATTR_SYMBOL = 3, ATTR_IN_PORT = 4,
        ATTR_TIMESTAMP = 5, ATTR_PROTO = 6, ATTR_PAYLOAD = 7, ATTR_PAD = 8, ATTR_TRUNC_LEN = 9, ATTR_ORIG_LEN = 10,
        ATTR_QUEUE_LEN = 11, ATTR_STATS = 12, ATTR_HW_STATS = 13, ATTR_ORIGIN = 14, ATTR_HW_TRAP_GROUP_NAME = 15,
        ATTR_HW_TRAP_NAME = 16, ATTR_HW_ENTRIES = 17, ATTR_HW_ENTRY = 18, ATTR_HW_TRAP_COUNT = 19,
        ATTR_SW_DROPS = 20, ATTR_HW_DROPS = 21, ATTR_FLOW_ACTION_COOKIE = 22, ATTR_REASON = 23;

    // enum { NET_DM_ATTR_PORT_NETDEV_IFINDEX, NET_DM_ATTR_PORT_NETDEV_NAME }
    public const ushort ATTR_PORT_NETDEV_IFINDEX = 0, ATTR_PORT_NETDEV_NAME = 1;

    // enum { NET_DM_ATTR_STATS_DROPPED }
    public const ushort ATTR_STATS_DROPPED = 0;

    // enum net_dm_origin
    public const ushort ORIGIN_SW = 0, ORIGIN_HW = 1;

    /// <summary>struct net_dm_drop_point { u8 pc[8]; u32 count; }</summary>
    public const int DropPointSize = 12;
}

/// <summary>enum net_dm_alert_mode: summary counts per site in the kernel; packet sends every dropped packet.</summary>
public enum NetDmMode : byte { Summary = 0, Packet = 1 }
