using DropBoard.Agent.Netlink;
using System.Text;
using DropBoard.Agent.Aggregation;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Sites;
using static DropBoard.Agent.Capture.NetDm.NetDmProtocol;

namespace DropBoard.Agent.Capture.NetDm;

/// <summary>
/// What NET_DM datagrams mean for DropBoard: summary points and dropped packets into the aggregator, packet
/// detail into samples and the pcapng file. Pure (bytes in, counts out), so it is tested on recorded
/// messages; a malformed message is counted and described, and the next one is decoded as usual.
/// </summary>
public sealed class NetDmDecoder(ushort familyId, DropAggregator aggregator, IDropSampleSink samples, PcapngWriter? pcap = null)
{
    private const string HardwareSite = "hardware (rx_dropped rose)";

    private readonly DropAggregator _aggregator = aggregator;
    private readonly IDropSampleSink _samples = samples;
    private readonly Dictionary<string, int> _reasonIds = new(StringComparer.Ordinal);
    private Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> ReasonLookup => _reasonIds.GetAlternateLookup<ReadOnlySpan<char>>();

    public long Messages { get; private set; }

    /// <summary>Messages that could not be parsed, each counted, the last reason in <see cref="LastError"/>.</summary>
    public long CorruptMessages { get; private set; }

    public string? LastError { get; private set; }

    /// <summary>One received datagram: every message in it, each parsed on its own so a bad one costs only itself.</summary>
    public void Decode(ReadOnlySpan<byte> datagram)
    {
        try
        {
            foreach (var message in new NetlinkDatagram(datagram))
            {
                if (message.Type != familyId) continue;
                Messages++;
                try
                {
                    switch (message.GenlCommand)
                    {
                        case CMD_ALERT: OnSummary(NetDmAlerts.ParseSummary(message)); break;
                        case CMD_PACKET_ALERT: OnPacket(NetDmAlerts.ParsePacket(message)); break;
                    }
                }
                catch (NetlinkParseException e)
                {
                    Corrupt(e.Message);
                }
            }
        }
        catch (NetlinkParseException e)
        {
            Corrupt(e.Message);
        }
    }

    private void Corrupt(string why)
    {
        CorruptMessages++;
        LastError = $"malformed NET_DM message: {why}";
    }

    private void OnSummary(SummaryAlert alert)
    {
        // Summary alerts carry no time: the drops happened within the second before the alert arrived.
        var now = UnixNowNs();
        foreach (var point in alert.Points)
        {
            if (point.Pc == 0) _aggregator.AddNamedSite(HardwareSite, "hardware", DropReasonTable.None, now, point.Count);
            else _aggregator.Add(point.Pc, DropReasonTable.None, now, point.Count);
        }
        foreach (var trap in alert.HardwareTraps)
            _aggregator.AddNamedSite(TrapSite(trap.TrapName), trap.TrapName, DropReasonTable.None, now, trap.Count);
        if (alert.Problem is not null) Corrupt(alert.Problem);
    }

    private void OnPacket(PacketAlert packet)
    {
        var timestamp = packet.TimestampNs != 0 ? (long)packet.TimestampNs : UnixNowNs();
        var reasonId = ReasonId(packet.Reason);
        // A hardware drop has no pc: its trap's name is its site, needed for the count itself.
        (string Site, string Function)? trapSite = packet.IsHardware ? SiteOf(packet) : null;
        if (trapSite is { } trap)
            _aggregator.AddNamedSite(trap.Site, trap.Function, reasonId, timestamp, 1);
        else
            _aggregator.Add(packet.Pc, reasonId, timestamp, 1, packet.Protocol);
        var wantSample = _samples.Admit();
        if (pcap is null && !wantSample) return;

        var site = trapSite ?? SiteOf(packet);
        var reason = packet.Reason.IsEmpty ? null : Encoding.UTF8.GetString(packet.Reason);
        var port = !packet.InPortName.IsEmpty ? Encoding.UTF8.GetString(packet.InPortName)
            : packet.InPortIfIndex != 0 ? $"ifindex {packet.InPortIfIndex}" : null;
        pcap?.Write((ulong)timestamp, packet.Payload, packet.OriginalLength,
            $"dropped at {site.Site}{(reason is null ? "" : $", reason {reason}")}{(port is null ? "" : $", in {port}")}");
        if (!wantSample) return;
        _samples.OnSample(new DropSample(timestamp, site.Site, site.Function, reason, packet.Protocol, port, (int)packet.OriginalLength,
            packet.Payload[..Math.Min(packet.Payload.Length, 128)].ToArray()));
    }

    // The kernel's own "%pS" symbol ("udp_queue_rcv_one_skb+0x3b5/0x4c0 [mod]") in DropSite's form, without the size.
    private static (string Site, string Function) SiteOf(PacketAlert packet)
    {
        if (packet.IsHardware)
        {
            var trap = Encoding.UTF8.GetString(packet.HardwareTrapName);
            return (TrapSite(trap), trap);
        }
        if (DropSite.TryParse(Encoding.UTF8.GetString(packet.Symbol), out var site)) return (site.ToString(), site.Function);
        return ($"0x{packet.Pc:x}", $"0x{packet.Pc:x}");
    }

    private static string TrapSite(string trap) => $"{trap} (hardware trap)";

    private int ReasonId(ReadOnlySpan<byte> reason)
    {
        if (reason.IsEmpty) return DropReasonTable.None;
        Span<char> chars = stackalloc char[Math.Min(reason.Length, 128)];
        var count = Encoding.UTF8.GetChars(reason[..chars.Length], chars);
        if (ReasonLookup.TryGetValue(chars[..count], out var id)) return id;
        var name = new string(chars[..count]);
        return _reasonIds[name] = _aggregator.Reasons.Intern(name);
    }

    private static long UnixNowNs() => (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;
}
