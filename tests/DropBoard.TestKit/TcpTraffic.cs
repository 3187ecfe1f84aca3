using System.Net;
using System.Net.Sockets;

namespace DropBoard.TestKit;

/// <summary>TCP traffic inside a namespace that makes the kernel refuse connections in known ways.</summary>
public static class TcpTraffic
{
    /// <summary>
    /// A listener with a backlog of 1 that never accepts: two clients fill its accept queue first, then the
    /// others connect at once and the kernel refuses their SYNs (and retransmissions) until the sockets close.
    /// Filling the queue first keeps every refusal at SYN time: a client let in while the queue had room and
    /// refused only at its ACK would make the counts depend on timing (seen on a loaded CI machine).
    /// </summary>
    public static void OverflowAcceptQueue(NetNamespace ns, int clients, int port)
    {
        using var listener = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(1);
        var sockets = new List<Socket>();
        try
        {
            const int queueRoom = 2; // a backlog of 1 holds two: the kernel counts full only beyond it
            for (var i = 0; i < clients; i++)
            {
                var client = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                if (i < queueRoom)
                {
                    client.Connect(new IPEndPoint(IPAddress.Loopback, port));
                    sockets.Add(client);
                    if (i == queueRoom - 1) Thread.Sleep(100); // the last ACK reaches the queue before any refused SYN
                    continue;
                }
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
