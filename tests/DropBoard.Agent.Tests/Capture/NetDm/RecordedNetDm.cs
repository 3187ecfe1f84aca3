using DropBoard.Agent.Netlink;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture;
using DropBoard.Agent.Capture.NetDm;
using DropBoard.Agent.Symbols;
using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Tests.Capture.NetDm;

/// <summary>The recordings of a real drop_monitor (Fixtures/netdm/README.md) and what the tests decode them with.</summary>
internal static class RecordedNetDm
{
    public const string Summary = "summary-udp-rcvbuf.rec", Packet = "packet-udp-rcvbuf.rec";

    /// <summary>Datagrams the flood sent to the socket that never reads, for each recording (tests/vm/record-netdm-fixtures.sh).</summary>
    public const int Datagrams = 300;

    /// <summary>
    /// How much the namespace's Udp RcvbufErrors rose while <paramref name="name"/> was recorded: the kernel's own
    /// count, from the /proc/net/snmp texts saved beside the recording, read with a plain split.
    /// </summary>
    public static long RcvbufErrors(string name)
    {
        var stem = name[..^".rec".Length];
        return Udp(Fixture.Text("netdm", $"{stem}.snmp-after.txt"), "RcvbufErrors") - Udp(Fixture.Text("netdm", $"{stem}.snmp-before.txt"), "RcvbufErrors");
    }

    private static long Udp(string snmp, string counter)
    {
        var lines = snmp.Split('\n').Where(l => l.StartsWith("Udp: ", StringComparison.Ordinal)).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        return long.Parse(lines[1][Array.IndexOf(lines[0], counter)]);
    }

    /// <summary>When the recording was made, as its header says ("# kernel 6.1.0-56-amd64, recorded 2026-11-29T09:41:59Z").</summary>
    public static DateOnly RecordedOn(string name) =>
        DateOnly.FromDateTime(DateTime.Parse(File.ReadLines(Fixture.Path("netdm", name)).First(l => l.Contains(", recorded ", StringComparison.Ordinal)).Split(", recorded ")[1],
            System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal));

    public static IReadOnlyList<(string Kind, byte[] Bytes)> Read(string name) => NetlinkRecording.Read(Fixture.Path("netdm", name));

    public static IEnumerable<byte[]> Events(string name) => Read(name).Where(d => d.Kind == "event").Select(d => d.Bytes);

    public static Symbolizer Symbolizer() => Agent.Symbols.Symbolizer.FromText(Fixture.Text("netdm", "kallsyms-excerpt.txt"));

    /// <summary>NET_DM as the recording kernel's controller described it.</summary>
    public static GenlFamily Family(string name)
    {
        foreach (var (kind, bytes) in Read(name))
        {
            if (kind != "reply") continue;
            foreach (var message in new NetlinkDatagram(bytes))
                if (message.Type == NetlinkProtocol.GENL_ID_CTRL) return GenlFamily.Parse(message);
        }
        throw new InvalidOperationException($"{name} has no family reply");
    }

    public static ushort FamilyId(string name) => Family(name).Id;

    public static (DropAggregator Aggregator, NetDmDecoder Decoder, SampleList Samples) Decoder(string name, PcapngWriter? pcap = null)
    {
        var aggregator = new DropAggregator(Symbolizer());
        var samples = new SampleList();
        return (aggregator, new NetDmDecoder(FamilyId(name), aggregator, samples, pcap), samples);
    }

    internal sealed class SampleList : IDropSampleSink
    {
        public List<DropSample> Samples { get; } = [];

        public bool Admit() => true;

        public void OnSample(DropSample sample) => Samples.Add(sample);
    }
}
