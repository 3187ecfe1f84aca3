using DropBoard.Agent.Netlink;

namespace DropBoard.Agent.Counters;

/// <summary>
/// The counters read by asking the kernel over netlink rather than from /proc/net files: device detail counters
/// and qdisc statistics (rtnetlink dumps) and nftables rule counters (nfnetlink dump). The sockets are made on
/// the thread that reads the namespace's files, so they speak to that namespace, whichever thread samples later.
/// </summary>
internal sealed class NetlinkCounters : IDisposable
{
    private readonly NetlinkSocket? _route;
    private readonly NetlinkSocket? _netfilter;
    private readonly Dictionary<int, string> _devices = [];
    // Each socket's own copies: sending writes the sequence number into them.
    private readonly byte[] _linkDump = RtnetlinkCounters.LinkDumpRequest();
    private readonly byte[] _qdiscDump = RtnetlinkCounters.QdiscDumpRequest();
    private readonly byte[] _ruleDump = NftRuleCounters.DumpRequest();

    /// <summary>Opens the sockets; one that cannot be opened is said in <paramref name="problems"/>, and its counters are not sampled.</summary>
    public NetlinkCounters(List<string> problems)
    {
        _route = TryOpen(NetlinkProtocol.NETLINK_ROUTE, "rtnetlink (device and qdisc counters)", problems);
        _netfilter = TryOpen(NetlinkProtocol.NETLINK_NETFILTER, "nfnetlink (nftables rule counters)", problems);
    }

    /// <param name="previous">The sample before, whose rule texts are kept for rules that did not change.</param>
    public void Read(CounterSnapshot into, CounterSnapshot? previous)
    {
        if (_route is not null)
        {
            _devices.Clear();
            Dump(_route, "rtnetlink link dump", _linkDump, d => RtnetlinkCounters.ParseLinks(d, _devices, into), into);
            Dump(_route, "rtnetlink qdisc dump", _qdiscDump, d => RtnetlinkCounters.ParseQdiscs(d, _devices, into), into);
        }
        if (_netfilter is not null)
            Dump(_netfilter, "nftables rule dump", _ruleDump, d => NftRuleCounters.Parse(d, into, previous), into);
    }

    private static void Dump(NetlinkSocket socket, string what, byte[] request, Action<byte[]> parse, CounterSnapshot into)
    {
        try
        {
            foreach (var datagram in socket.Transact(what, request)) parse(datagram);
        }
        catch (Exception e) when (e is NetlinkErrorException or NetlinkParseException or TimeoutException)
        {
            into.Problems.Add($"{what}: {e.Message}");
        }
    }

    private static NetlinkSocket? TryOpen(int protocol, string what, List<string> problems)
    {
        try
        {
            return NetlinkSocket.Open(protocol);
        }
        catch (NetlinkErrorException e)
        {
            problems.Add($"{what}: {e.Message}; its counters are not sampled");
            return null;
        }
    }

    public void Dispose()
    {
        _route?.Dispose();
        _netfilter?.Dispose();
    }
}
