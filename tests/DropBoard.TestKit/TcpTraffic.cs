using System.Diagnostics;
using System.Globalization;
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
    /// Returns once every refused client's first SYN and its first retransmission were refused, whatever the load.
    /// </summary>
    public static void OverflowAcceptQueue(NetNamespace ns, int clients, int port)
    {
        const int queueRoom = 2; // a backlog of 1 holds two: the kernel counts full only beyond it
        var overflowsBefore = ns.CounterFromThread("netstat", "TcpExt", "ListenOverflows");
        using var listener = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
        listener.Listen(1);
        var sockets = new List<Socket>();
        try
        {
            for (var i = 0; i < clients; i++)
            {
                var client = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                if (i < queueRoom)
                {
                    client.Connect(new IPEndPoint(IPAddress.Loopback, port));
                    sockets.Add(client);
                    // The last ACK reaches the queue before any refused SYN.
                    if (i == queueRoom - 1)
                        WaitUntil(() => AcceptQueueLength(ns, port) == queueRoom, $"the accept queue of port {port} to hold {queueRoom} connections",
                            () => $"it holds {AcceptQueueLength(ns, port)}");
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
            // One SYN retransmission round (1 s initial RTO, later on a loaded machine): each refused SYN is one
            // ListenOverflows, so the first SYNs and their retransmissions make twice the refused clients.
            var refusals = 2L * (clients - queueRoom);
            WaitUntil(() => ns.CounterFromThread("netstat", "TcpExt", "ListenOverflows") - overflowsBefore >= refusals,
                $"{refusals} refused SYNs (every refused client's first SYN and one retransmission)",
                () => $"TcpExt.ListenOverflows rose by {ns.CounterFromThread("netstat", "TcpExt", "ListenOverflows") - overflowsBefore}");
        }
        finally
        {
            foreach (var s in sockets) s.Dispose();
        }
    }

    /// <summary>
    /// One connection from <paramref name="from"/> to a listener in <paramref name="to"/> at <paramref name="listenAt"/>:
    /// once it is up, <paramref name="connected"/> runs (to narrow the path under it), then the client sends as fast as
    /// the path takes for <paramref name="during"/> and closes with a reset, so that nothing of it is retransmitted
    /// after this returns. Returns the bytes the client's socket took.
    /// </summary>
    public static long Bulk(NetNamespace from, NetNamespace to, IPEndPoint listenAt, TimeSpan during, Action? connected = null)
    {
        using var listener = to.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(listenAt);
        listener.Listen(1);
        using var client = from.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        client.Connect(listenAt);
        using var server = listener.Accept();
        var reading = Task.Run(() =>
        {
            var buffer = new byte[65536];
            try
            {
                while (server.Receive(buffer) > 0)
                {
                }
            }
            catch (SocketException)
            {
                // The reset that ends it.
            }
        });
        connected?.Invoke();
        client.Blocking = false;
        var chunk = new byte[16384];
        var sent = 0L;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < during)
        {
            try
            {
                sent += client.Send(chunk);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
            {
                Thread.Sleep(10);
            }
        }
        client.LingerState = new LingerOption(true, 0);
        client.Close();
        server.Shutdown(SocketShutdown.Both);
        reading.Wait(TimeSpan.FromSeconds(10));
        return sent;
    }

    /// <summary>Connections waiting in the accept queue of a listener on 127.0.0.1:<paramref name="port"/>: the rx_queue column of /proc/net/tcp for a LISTEN socket.</summary>
    public static int AcceptQueueLength(NetNamespace ns, int port)
    {
        var local = $"0100007F:{port:X4}";
        foreach (var line in ns.ReadProcNetFromThread("tcp").Split('\n').Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 4 && fields[1] == local && fields[3] == "0A")
                return int.Parse(fields[4].Split(':')[1], NumberStyles.HexNumber);
        }
        throw new InvalidOperationException($"no listener on {local} in /proc/net/tcp of {ns.Name}");
    }

    // A condition, not a sleep: a loaded 2-core CI machine can take far longer than the kernel's own timers.
    private static void WaitUntil(Func<bool> condition, string what, Func<string> state)
    {
        var ceiling = TimeSpan.FromSeconds(60);
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > ceiling) throw new TimeoutException($"waited {ceiling.TotalSeconds} s for {what}; {state()}");
            Thread.Sleep(20);
        }
    }
}
