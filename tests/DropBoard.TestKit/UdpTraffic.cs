using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
namespace DropBoard.TestKit;

/// <summary>Real UDP traffic inside a namespace that makes the kernel drop packets in known ways.</summary>
public static class UdpTraffic
{
    /// <summary>
    /// A receiver with a tiny SO_RCVBUF that does not read, flooded from another socket: the receive queue
    /// overflows. Returns how many datagrams were sent and how many the receiver could read afterwards, once every
    /// datagram was either read or counted by the namespace as a receive-buffer error: on a loaded machine the
    /// softirq that queues or drops a datagram can run after its send returned.
    /// </summary>
    /// <param name="sourcePort">The sender's port, so the flow is known; an ephemeral one when 0.</param>
    public static (int Sent, int Received) OverflowReceiveBuffer(NetNamespace ns, int datagrams, int port, int sourcePort = 0)
    {
        var errorsBefore = ns.CounterFromThread("snmp", "Udp", "RcvbufErrors");
        using var receiver = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.ReceiveBufferSize = 1024; // the kernel doubles it and applies its minimum: a few datagrams fit
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, port));
        using var sender = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        if (sourcePort != 0) sender.Bind(new IPEndPoint(IPAddress.Loopback, sourcePort));
        var payload = new byte[200];
        var target = new IPEndPoint(IPAddress.Loopback, port);
        for (var i = 0; i < datagrams; i++) sender.SendTo(payload, target);

        var received = 0;
        var buffer = new byte[2048];
        receiver.Blocking = false;
        var clock = Stopwatch.StartNew();
        while (true)
        {
            while (receiver.Available > 0)
            {
                receiver.Receive(buffer);
                received++;
            }
            var dropped = ns.CounterFromThread("snmp", "Udp", "RcvbufErrors") - errorsBefore;
            if (received + dropped >= datagrams) break;
            if (clock.Elapsed > TimeSpan.FromSeconds(60))
                throw new TimeoutException($"of {datagrams} datagrams sent, {received} were read and {dropped} counted as RcvbufErrors after 60 s");
            Thread.Sleep(20);
        }
        return (datagrams, received);
    }

    /// <summary>
    /// A receiver with a tiny buffer that never reads, sent to about once a millisecond until <paramref name="stop"/>:
    /// a steady stream of receive-buffer drops (every datagram past the first few). Returns how many were sent.
    /// </summary>
    public static long SteadyOverflow(NetNamespace ns, int port, CancellationToken stop)
    {
        using var receiver = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.ReceiveBufferSize = 1024;
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, port));
        using var sender = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        var payload = new byte[200];
        var target = new IPEndPoint(IPAddress.Loopback, port);
        long sent = 0;
        while (!stop.IsCancellationRequested)
        {
            sender.SendTo(payload, target);
            sent++;
            Thread.Sleep(1);
        }
        return sent;
    }

    /// <summary>Datagrams to a port nobody listens on.</summary>
    public static void SendTo(NetNamespace ns, int datagrams, int port) => SendTo(ns, new IPEndPoint(IPAddress.Loopback, port), datagrams);

    /// <summary>Datagrams of 64 bytes to <paramref name="target"/>, sent with the given IP time to live.</summary>
    public static void SendTo(NetNamespace ns, IPEndPoint target, int datagrams, short ttl = 64)
    {
        using var sender = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Ttl = ttl;
        var payload = new byte[64];
        for (var i = 0; i < datagrams; i++) sender.SendTo(payload, target);
    }
}
