using DropBoard.Shared.Contracts;

namespace DropBoard.Shared.Flows;

/// <summary>How a dropped flow is written for people, the same in the terminal and on the dashboard.</summary>
public static class FlowText
{
    public static string ProtocolName(byte ipProtocol) => ipProtocol switch
    {
        1 => "icmp", 6 => "tcp", 17 => "udp", 58 => "icmp6", 132 => "sctp", _ => $"ip{ipProtocol}",
    };

    /// <summary><c>10.0.0.1:53</c>, <c>[fd00::1]:53</c>.</summary>
    public static string Endpoint(string address, ushort port) => address.Contains(':') ? $"[{address}]:{port}" : $"{address}:{port}";

    /// <summary><c>udp 10.0.0.1:40000 -> 10.0.0.2:53</c>.</summary>
    public static string Of(DroppedFlow f) => $"{ProtocolName(f.IpProtocol)} {Endpoint(f.Source, f.SourcePort)} -> {Endpoint(f.Destination, f.DestinationPort)}";
}
