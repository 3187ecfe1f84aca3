namespace DropBoard.Web.Views;

/// <summary>
/// Drop events from sockets that carry no network traffic: an AF_UNIX, vsock or netlink socket freeing a message
/// its reader never took (closed with data queued) fires the same <c>kfree_skb</c>. They are real frees but no
/// packet loss, so pages show them only on request.
/// </summary>
public static class NonNetworkFrees
{
    // By the kernel's own naming: net/unix (unix_*), net/vmw_vsock (vsock_*, virtio_transport_*, vmci_transport_*,
    // hvs_* for Hyper-V), net/netlink/af_netlink.c (netlink_*).
    private static readonly string[] Prefixes = ["unix_", "vsock_", "virtio_transport_", "vmci_transport_", "hvs_", "netlink_"];

    public const string Families = "AF_UNIX, vsock, netlink";

    public static bool Is(string function) =>
        Prefixes.Any(p => function.TrimStart('_').StartsWith(p, StringComparison.Ordinal));
}
