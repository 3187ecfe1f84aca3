using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace DropBoard.TestKit;

/// <summary>ICMP traffic inside a namespace, from a raw socket (no ping binary needed).</summary>
public static class IcmpTraffic
{
    /// <summary>Echo requests to 127.0.0.1; the kernel answers each one.</summary>
    public static void EchoRequests(NetNamespace ns, int count)
    {
        using var socket = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Raw, ProtocolType.Icmp);
        var target = new IPEndPoint(IPAddress.Loopback, 0);
        var packet = new byte[40];
        for (var i = 0; i < count; i++)
        {
            packet.AsSpan().Clear();
            packet[0] = 8; // echo request
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(4), 1);
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(6), (ushort)i);
            BinaryPrimitives.WriteUInt16BigEndian(packet.AsSpan(2), Checksum(packet));
            socket.SendTo(packet, target);
        }
    }

    // RFC 1071 one's-complement sum.
    private static ushort Checksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (var i = 0; i + 1 < data.Length; i += 2) sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        while (sum >> 16 != 0) sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
