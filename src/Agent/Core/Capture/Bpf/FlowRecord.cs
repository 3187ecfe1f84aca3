using System.Buffers.Binary;
using System.Net;

namespace DropBoard.Agent.Capture.Bpf;

/// <summary>
/// One sampled drop from the program's flow ring: the program's <c>struct flow_record</c> (version 1, 64 bytes).
/// Pure: read from the ring's bytes, never from the kernel.
/// </summary>
/// <param name="Protocol">EtherType (<c>0x0800</c>, <c>0x86DD</c>); the addresses are read only for these two.</param>
/// <param name="IpProtocol">IP protocol number (6 TCP, 17 UDP), 0 when the packet is not IP.</param>
/// <param name="Source">Null when the packet is not IP.</param>
public readonly record struct FlowRecord(ulong Location, uint Reason, uint Netns, uint Ifindex, ushort Protocol, byte IpProtocol,
    IPAddress? Source, ushort SourcePort, IPAddress? Destination, ushort DestinationPort)
{
    public const int Size = 64;
    public const byte Version = 1;

    /// <summary>Reads a record, or says why it cannot (too short, a version this agent does not know).</summary>
    public static bool TryRead(ReadOnlySpan<byte> bytes, out FlowRecord record, out string? problem)
    {
        record = default;
        if (bytes.Length < 1 || bytes[0] != Version)
        {
            problem = bytes.Length < 1 ? "an empty flow record" : $"a flow record of version {bytes[0]}, this agent reads version {Version}";
            return false;
        }
        if (bytes.Length < Size)
        {
            problem = $"a truncated flow record ({bytes.Length} bytes of {Size})";
            return false;
        }
        var protocol = BinaryPrimitives.ReadUInt16LittleEndian(bytes[2..]);
        var width = protocol switch { 0x0800 => 4, 0x86DD => 16, _ => 0 };
        record = new FlowRecord(
            Location: BinaryPrimitives.ReadUInt64LittleEndian(bytes[16..]),
            Reason: BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]),
            Netns: BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]),
            Ifindex: BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]),
            Protocol: protocol,
            IpProtocol: width == 0 ? (byte)0 : bytes[1],
            Source: width == 0 ? null : new IPAddress(bytes.Slice(24, width)),
            SourcePort: BinaryPrimitives.ReadUInt16LittleEndian(bytes[56..]),
            Destination: width == 0 ? null : new IPAddress(bytes.Slice(40, width)),
            DestinationPort: BinaryPrimitives.ReadUInt16LittleEndian(bytes[58..]));
        problem = null;
        return true;
    }
}
