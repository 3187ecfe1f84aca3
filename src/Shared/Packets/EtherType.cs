namespace DropBoard.Shared.Packets;

/// <summary>Names for the EtherTypes the kernel puts in <c>skb->protocol</c>, as an operator reads them.</summary>
public static class EtherType
{
    public static string Name(ushort protocol) => protocol switch
    {
        0 => "unknown",
        0x0800 => "IPv4",
        0x86DD => "IPv6",
        0x0806 => "ARP",
        0x8100 => "802.1Q",
        0x88CC => "LLDP",
        0x8847 => "MPLS",
        0x0004 => "802.2", // ETH_P_802_2: what the kernel sets on frames without an EtherType (STP, LLC)
        _ => $"0x{protocol:X4}",
    };
}
