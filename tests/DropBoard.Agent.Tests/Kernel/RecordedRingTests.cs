using System.Text;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture.Tracepoint;
using DropBoard.Agent.Counters;
using DropBoard.Agent.Symbols;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// Opens the perf rings directly, makes drops, and decodes the raw ring bytes: the decoder must find exactly
/// the drops the namespace counted. With DROPBOARD_RECORD_FIXTURES=1 it also stores the bytes as fixtures.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class RecordedRingTests
{
    [Fact]
    public void Raw_ring_bytes_decode_to_exactly_the_drops_the_namespace_counted()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var format = Tracefs.ReadFormat(Tracefs.Locate(), "skb", "kfree_skb");
        var events = TracepointSource.OnlineCpus().Select(cpu => PerfEvent.Open(format.Id, cpu, 64, clockId: 1)).ToList();
        try
        {
            var before = Snmp(ns);
            events.ForEach(e => e.Enable());
            UdpTraffic.SendTo(ns, 300, port: 7010);
            UdpTraffic.OverflowReceiveBuffer(ns, 200, port: 7011);
            events.ForEach(e => e.Disable());
            var after = Snmp(ns);
            var bytes = events.SelectMany(e => e.Ring.Snapshot()).ToArray();

            var symbolizer = Symbolizer.LoadKallsyms();
            var counts = Decode(bytes, format, symbolizer, out var decoder);
            Assert.Equal(0, decoder.CorruptRecords);
            var expected = new Dictionary<string, long>
            {
                ["NO_SOCKET"] = (long)(after.Values["Udp.NoPorts"] - before.Values["Udp.NoPorts"]),
                ["SOCKET_RCVBUFF"] = (long)(after.Values["Udp.RcvbufErrors"] - before.Values["Udp.RcvbufErrors"]),
            };
            Assert.Equal(300, expected["NO_SOCKET"]);
            Assert.InRange(expected["SOCKET_RCVBUFF"], 1, 200);
            foreach (var (reason, count) in expected)
                Assert.Equal(count, counts.Where(c => c.Key.Reason == reason).Sum(c => c.Value));

            if (Environment.GetEnvironmentVariable("DROPBOARD_RECORD_FIXTURES") == "1")
                Record(bytes, counts, expected, symbolizer);
        }
        finally
        {
            events.ForEach(e => e.Dispose());
        }
    }

    internal static Dictionary<(string Function, string? Reason), long> Decode(byte[] bytes, TracepointFormat format, Symbolizer symbolizer, out PerfRecordDecoder decoder)
    {
        var aggregator = new DropAggregator(symbolizer);
        decoder = new PerfRecordDecoder(KfreeSkbLayout.From(format), format.ReasonNames, aggregator, clockOffsetNs: 0);
        decoder.DecodeAll(bytes);
        aggregator.Commit();
        return aggregator.Flush()
            .GroupBy(b => (b.Function, b.Reason))
            .ToDictionary(g => g.Key, g => g.Sum(b => b.Count));
    }

    private static void Record(byte[] bytes, Dictionary<(string Function, string? Reason), long> counts, Dictionary<string, long> expected, Symbolizer symbolizer)
    {
        var dir = Path.Combine(SourceDirectory(), "Fixtures", "tracepoint");
        File.WriteAllBytes(Path.Combine(dir, "ring-kfree_skb-6.18.bin"), bytes);
        var functions = counts.Keys.Select(k => k.Function).ToHashSet();
        var lines = File.ReadLines("/proc/kallsyms").Where(l => l.Split(' ', 3) is [_, "t" or "T", var name] && functions.Contains(name.Split('\t')[0]));
        File.WriteAllLines(Path.Combine(dir, "ring-kfree_skb-6.18.kallsyms"), lines);
        var sb = new StringBuilder();
        foreach (var ((function, reason), count) in counts.Where(c => c.Key.Reason is not null && expected.ContainsKey(c.Key.Reason)).OrderBy(c => c.Key.Reason))
            sb.AppendLine($"{reason} {function} {count}");
        File.WriteAllText(Path.Combine(dir, "ring-kfree_skb-6.18.expected"), sb.ToString());
    }

    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string path = "") =>
        Path.GetDirectoryName(Path.GetDirectoryName(path))!;

    private static CounterSnapshot Snmp(NetNamespace ns)
    {
        var snapshot = new CounterSnapshot();
        ProcNetParsers.ParseHeaderValuePairs(ns.ReadProcNet("snmp"), "snmp", snapshot);
        return snapshot;
    }
}
