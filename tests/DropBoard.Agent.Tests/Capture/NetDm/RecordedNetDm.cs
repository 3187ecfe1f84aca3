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

    /// <summary>Udp RcvbufErrors rose by this much while the recordings were made.</summary>
    public const int RcvbufErrors = 296;

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
                if (message.Type == Netlink.GENL_ID_CTRL) return GenlFamily.Parse(message);
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
