using System.Net;
using System.Net.Sockets;

namespace DropBoard.TestKit;

/// <summary>TCP traffic inside a namespace that makes the kernel refuse connections in known ways.</summary>
public static class TcpTraffic
{
    /// <summary>
    /// A listener with a backlog of 1 that never accepts, and <paramref name="clients"/> connecting at once:
    /// the accept queue overflows and the kernel refuses SYNs (and their retransmissions) until the sockets close.
    /// </summary>
    public static void OverflowAcceptQueue(NetNamespace ns, int clients, int port)
    {
        using var listener = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(1);
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < clients; i++)
            {
                var client = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                client.Blocking = false;
                try
                {
                    client.Connect(new IPEndPoint(IPAddress.Loopback, port));
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
                {
                }
                sockets.Add(client);
            }
            Thread.Sleep(1500); // one SYN retransmission round (1 s initial RTO)
        }
        finally
        {
            foreach (var s in sockets) s.Dispose();
        }
    }
}
