using System.Net;
using DropBoard.Agent.Capture.Bpf;

namespace DropBoard.Agent.Tests.Capture.Bpf;

/// <summary>The flow ring's records, read from real bytes the kernel handed over (Fixtures/bpf/flow-records.txt).</summary>
public class FlowRecordTests
{
    private static readonly byte[][] Recorded = [.. File.ReadLines(Fixture.Path("bpf", "flow-records.txt"))
        .Where(l => l.Length > 0 && l[0] != '#').Select(Convert.FromHexString)];

    [Fact]
    public void An_IPv4_UDP_drop_reads_as_its_five_tuple_interface_namespace_reason_and_site()
    {
        Assert.True(FlowRecord.TryRead(Recorded[0], out var r, out var problem), problem);

        Assert.Equal(new FlowRecord(0xffffffff82045927, 6, 4026532246, 1, 0x0800, 17, IPAddress.Parse("127.0.0.1"), 7301, IPAddress.Parse("127.0.0.1"), 7302), r);
    }

    [Fact]
    public void An_IPv6_UDP_drop_reads_its_sixteen_byte_addresses()
    {
        Assert.True(FlowRecord.TryRead(Recorded[1], out var r, out var problem), problem);

        Assert.Equal((0x86DD, (byte)17, IPAddress.IPv6Loopback, (ushort)7301, IPAddress.IPv6Loopback, (ushort)7302, 0xffffffff821051ceul),
            (r.Protocol, r.IpProtocol, r.Source, r.SourcePort, r.Destination, r.DestinationPort, r.Location));
    }

    [Fact]
    public void A_packet_that_is_not_IP_has_no_addresses()
    {
        var arp = (byte[])Recorded[0].Clone();
        arp[2] = 0x06; // EtherType 0x0806

        Assert.True(FlowRecord.TryRead(arp, out var r, out _));
        Assert.Equal((0x0806, (byte)0, (IPAddress?)null, (IPAddress?)null), (r.Protocol, r.IpProtocol, r.Source, r.Destination));
    }

    [Fact]
    public void A_truncated_record_is_refused_with_its_length()
    {
        Assert.False(FlowRecord.TryRead(Recorded[0].AsSpan(0, 40), out _, out var problem));

        Assert.Equal("a truncated flow record (40 bytes of 64)", problem);
        Assert.False(FlowRecord.TryRead([], out _, out problem));
        Assert.Equal("an empty flow record", problem);
    }

    [Fact]
    public void A_record_of_a_version_this_agent_does_not_know_is_refused()
    {
        var newer = (byte[])Recorded[0].Clone();
        newer[0] = 2;

        Assert.False(FlowRecord.TryRead(newer, out _, out var problem));
        Assert.Equal("a flow record of version 2, this agent reads version 1", problem);
    }
}
