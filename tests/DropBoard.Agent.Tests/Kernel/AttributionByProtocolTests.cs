using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using DropBoard.TestKit;
using static DropBoard.Agent.Tests.Kernel.WatchAgainstKernelCountersTests;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// Drops whose reason is shared by TCP and UDP, or by IPv4 and IPv6, made for real in a namespace: the agent's
/// attribution must credit each to its own protocol's counter, equal to the namespace's own rise, and to no other.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class AttributionByProtocolTests
{
    [Fact]
    public async Task Tcp_segments_to_a_closed_port_are_credited_to_Tcp_OutRsts_and_never_to_Udp_NoPorts()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        const int attempts = 150, datagrams = 40;
        var (resetsBefore, noPortsBefore) = (ns.Snmp("Tcp", "OutRsts"), ns.Snmp("Udp", "NoPorts"));

        // Each connect's SYN finds no socket: tcp_v4_rcv answers with a reset and drops it (NO_SOCKET). UDP to a
        // closed port beside it raises Udp.NoPorts, so that a row exists that TCP's NO_SOCKET drops could be put in.
        var (summary, refused) = await WatchWhile(ns, () =>
        {
            UdpTraffic.SendTo(ns, datagrams, port: 7403);
            return ConnectToClosedPort(ns, attempts, 7401);
        }, () => ns.Snmp("Udp", "NoPorts") - noPortsBefore >= datagrams);

        var resets = ns.Snmp("Tcp", "OutRsts") - resetsBefore;
        Assert.Equal(attempts, refused);
        Assert.Equal(attempts, resets);
        // Capture is machine-wide and resets to closed ports are common on a busy host: ours are a lower bound.
        var row = Row(summary, "Tcp.OutRsts");
        Assert.Equal(resets, row.GetProperty("delta").GetInt64());
        Assert.InRange(OwnSites(row, "NO_SOCKET", "tcp_v4_rcv"), resets, resets + 50);
        Assert.All(row.GetProperty("sites").EnumerateArray(), s => Assert.StartsWith("tcp", s.GetProperty("function").GetString()));
        var noPorts = Row(summary, "Udp.NoPorts");
        Assert.Equal(datagrams, noPorts.GetProperty("delta").GetInt64());
        Assert.All(noPorts.GetProperty("sites").EnumerateArray(), s => Assert.Equal("__udp4_lib_rcv", s.GetProperty("function").GetString()));
        Assert.Equal(datagrams, OwnSites(noPorts, "NO_SOCKET", "__udp4_lib_rcv"));
    }

    [Fact]
    public async Task Ipv6_receive_buffer_drops_equal_Udp6_RcvbufErrors_and_are_not_credited_to_Udp_RcvbufErrors()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var before = Snmp6(ns, "Udp6RcvbufErrors");

        var (summary, stats) = await WatchWhile(ns, () => OverflowReceiveBufferIpv6(ns, 2000, 7402), done: null);

        var drops = Snmp6(ns, "Udp6RcvbufErrors") - before;
        Assert.True(drops > 500, $"the flood should overflow the queue; Udp6RcvbufErrors rose by {drops}");
        Assert.Equal(stats.Sent - stats.Received, drops);
        var row = Row(summary, "Udp6.RcvbufErrors");
        Assert.Equal(drops, row.GetProperty("delta").GetInt64());
        Assert.Equal(drops, OwnSites(row, "SOCKET_RCVBUFF", "udp"));
        Assert.All(row.GetProperty("sites").EnumerateArray(), s => Assert.Equal(0x86DD, s.GetProperty("protocol").GetInt32()));
        Assert.DoesNotContain(summary.GetProperty("attribution").EnumerateArray(), a => a.GetProperty("counter").GetString() == "Udp.RcvbufErrors");
    }

    private static JsonElement Row(JsonElement summary, string counter) =>
        summary.GetProperty("attribution").EnumerateArray().Single(a => a.GetProperty("counter").GetString() == counter);

    /// <summary>Drops in an attribution row for the reason at functions containing <paramref name="function"/>.</summary>
    private static long OwnSites(JsonElement row, string reason, string function) =>
        row.GetProperty("sites").EnumerateArray()
            .Where(s => s.GetProperty("reason").GetString() == reason && s.GetProperty("function").GetString()!.Contains(function))
            .Sum(s => s.GetProperty("count").GetInt64());

    private static int ConnectToClosedPort(NetNamespace ns, int attempts, int port)
    {
        var refused = 0;
        for (var i = 0; i < attempts; i++)
        {
            using var client = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                client.Connect(new IPEndPoint(IPAddress.Loopback, port));
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                refused++;
            }
        }
        return refused;
    }

    /// <summary>
    /// The IPv6 twin of <see cref="UdpTraffic.OverflowReceiveBuffer"/>: a receiver on ::1 with a tiny buffer that
    /// does not read, flooded, then drained; returns once every datagram was read or counted as Udp6RcvbufErrors.
    /// </summary>
    private static (int Sent, int Received) OverflowReceiveBufferIpv6(NetNamespace ns, int datagrams, int port)
    {
        var errorsBefore = Snmp6(ns, "Udp6RcvbufErrors");
        using var receiver = ns.CreateSocket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        receiver.ReceiveBufferSize = 1024;
        receiver.Bind(new IPEndPoint(IPAddress.IPv6Loopback, port));
        using var sender = ns.CreateSocket(AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp);
        var payload = new byte[200];
        for (var i = 0; i < datagrams; i++) sender.SendTo(payload, new IPEndPoint(IPAddress.IPv6Loopback, port));

        var received = 0;
        var buffer = new byte[2048];
        receiver.Blocking = false;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            while (receiver.Available > 0)
            {
                receiver.Receive(buffer);
                received++;
            }
            var dropped = Snmp6(ns, "Udp6RcvbufErrors") - errorsBefore;
            if (received + dropped >= datagrams) return (datagrams, received);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"of {datagrams} datagrams, {received} read and {dropped} counted after 60 s");
            Thread.Sleep(20);
        }
    }

    /// <summary>A counter of the namespace's /proc/net/snmp6 ("Name value" lines), read with a plain split.</summary>
    private static long Snmp6(NetNamespace ns, string name) =>
        ns.ReadProcNet("snmp6").Split('\n').Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f.Length == 2 && f[0] == name).Select(f => long.Parse(f[1])).Single();
}
