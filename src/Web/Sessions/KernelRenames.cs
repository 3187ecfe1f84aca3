namespace DropBoard.Web.Sessions;

/// <summary>A drop function that a kernel release renamed: the same drop site under two names.</summary>
public sealed record KernelRename(string Old, string New, string Since, string Source);

/// <summary>
/// Renames that make one drop site look like two when sessions of an old and a new kernel are compared. A pair is
/// only joined when one side has just the old name and the other just the new one: on a new kernel both names exist.
/// </summary>
public static class KernelRenames
{
    private const string UdpGro = "commit cf329aa42b66 \"udp: cope with UDP GRO packet misdirection\": the socket receive path moved into "
                                  + "*_queue_rcv_one_skb, and *_queue_rcv_skb became a wrapper that segments GRO packets and calls it";

    public static readonly IReadOnlyList<KernelRename> Known =
    [
        new("udp_queue_rcv_skb", "udp_queue_rcv_one_skb", "5.0", $"net/ipv4/udp.c, {UdpGro}"),
        new("udpv6_queue_rcv_skb", "udpv6_queue_rcv_one_skb", "5.0", $"net/ipv6/udp.c, {UdpGro}"),
    ];
}
