using System.Buffers.Binary;
using System.Diagnostics;
using System.Text.RegularExpressions;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture.Tracepoint;
using DropBoard.Agent.Counters;
using DropBoard.Agent.Symbols;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// Opens the perf rings directly, makes drops, and decodes the raw ring bytes: the decoder must find exactly the
/// drops the namespace counted, at the test's own sites (capture is machine-wide: other sites are not counted).
/// With DROPBOARD_RECORD_FIXTURES=1 it also stores the bytes as fixtures, with witnesses that owe nothing to the
/// decoder: `perf record` of the same events beside the rings, and the namespace's counters (Fixtures/tracepoint/README.md).
/// </summary>
[Collection(KernelCollection.Name)]
public sealed partial class RecordedRingTests
{
    public static readonly string[] UdpQueueSites = ["__udp_enqueue_schedule_skb", "udp_queue_rcv_one_skb", "udp_queue_rcv_skb"];
    public static readonly string[] UdpNoPortSites = ["__udp4_lib_rcv"];

    [Fact]
    public async Task Raw_ring_bytes_decode_to_exactly_the_drops_the_namespace_counted()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        var recording = Environment.GetEnvironmentVariable("DROPBOARD_RECORD_FIXTURES") == "1";
        using var perf = recording ? await PerfRecord.StartAsync() : null;
        var format = Tracefs.ReadFormat(Tracefs.Locate(), "skb", "kfree_skb");
        var events = TracepointSource.OnlineCpus().Select(cpu => PerfEvent.Open(format.Id, cpu, 64, clockId: 1)).ToList();
        try
        {
            var snmpBefore = ns.ReadProcNet("snmp");
            events.ForEach(e => e.Enable());
            UdpTraffic.SendTo(ns, 300, port: 7010);
            UdpTraffic.OverflowReceiveBuffer(ns, 200, port: 7011);
            // Every datagram to the closed port counted (and so dropped) before the rings stop.
            await WaitUntil(() => ns.Snmp("Udp", "NoPorts") - Counter(snmpBefore, "Udp.NoPorts") >= 300);
            events.ForEach(e => e.Disable());
            var snmpAfter = ns.ReadProcNet("snmp");
            var bytes = events.SelectMany(e => e.Ring.Snapshot()).ToArray();

            var symbolizer = Symbolizer.LoadKallsyms();
            var counts = Decode(bytes, format, symbolizer, out var decoder);
            Assert.Equal(0, decoder.CorruptRecords);
            Assert.Equal(0, decoder.LostRecords);
            var noPorts = Counter(snmpAfter, "Udp.NoPorts") - Counter(snmpBefore, "Udp.NoPorts");
            var rcvbufErrors = Counter(snmpAfter, "Udp.RcvbufErrors") - Counter(snmpBefore, "Udp.RcvbufErrors");
            Assert.Equal(300, noPorts);
            Assert.InRange(rcvbufErrors, 1, 200);
            Assert.Equal(noPorts, At(counts, "NO_SOCKET", UdpNoPortSites));
            Assert.Equal(rcvbufErrors, At(counts, "SOCKET_RCVBUFF", UdpQueueSites));

            if (perf is not null)
                Record(bytes, counts, await perf.StopAsync(), snmpBefore, snmpAfter);
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

    /// <summary>Drops of one reason at the given functions: the test's own sites, not what the rest of the machine dropped.</summary>
    internal static long At(Dictionary<(string Function, string? Reason), long> counts, string reason, string[] functions) =>
        counts.Where(c => c.Key.Reason == reason && functions.Contains(c.Key.Function)).Sum(c => c.Value);

    /// <summary>A counter (<c>Udp.NoPorts</c>) of a /proc/net/snmp text, read with a plain split.</summary>
    internal static long Counter(string snmp, string name)
    {
        var (group, counter) = (name[..name.IndexOf('.')], name[(name.IndexOf('.') + 1)..]);
        var lines = snmp.Split('\n').Where(l => l.StartsWith(group + ": ", StringComparison.Ordinal)).Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        return long.Parse(lines[1][Array.IndexOf(lines[0], counter)]);
    }

    /// <summary>
    /// <c>perf script</c> lines of skb:kfree_skb per (function, reason): perf's own decoder, reason table and
    /// symbolizer (libtraceevent and its kallsyms), nothing of DropBoard's.
    /// </summary>
    internal static Dictionary<(string Function, string? Reason), long> PerfScriptCounts(IEnumerable<string> lines) =>
        lines.Select(l => PerfScriptLine().Match(l)).Where(m => m.Success)
            .GroupBy(m => (m.Groups["function"].Value, (string?)m.Groups["reason"].Value))
            .ToDictionary(g => g.Key, g => (long)g.Count());

    // "[000]  9002.343329014: skbaddr=0xffff... rx_sk=(nil) protocol=2048 location=__udp4_lib_rcv+0x4bc reason: NO_SOCKET"
    [GeneratedRegex(@"^\[(?<cpu>\d+)\]\s+(?<s>\d+)\.(?<ns>\d{9}): .* location=(?<function>[^+\s]+)\+0x[0-9a-f]+ reason: (?<reason>\S+)$")]
    internal static partial Regex PerfScriptLine();

    private static void Record(byte[] bytes, Dictionary<(string Function, string? Reason), long> counts, IReadOnlyList<string> perfScript, string snmpBefore, string snmpAfter)
    {
        // perf ran before the rings were enabled and after they were disabled: its events around the rings' first
        // and last sample times are the very events the rings hold. Each perf event stamps a sample with its own
        // clock read, so perf's time of a drop is a few hundred ns off the ring's: a margin of 1 ms either side
        // (the rings were enabled just before the traffic and disabled right after). Checked before anything is written.
        var times = SampleTimes(bytes);
        const long margin = 1_000_000;
        var window = perfScript.Where(l => PerfScriptLine().Match(l) is { Success: true } m
            && long.Parse(m.Groups["s"].Value) * 1_000_000_000 + long.Parse(m.Groups["ns"].Value) is var t && t >= times.Min() - margin && t <= times.Max() + margin).ToList();
        Assert.Equal(counts.OrderBy(c => c.Key.ToString()), PerfScriptCounts(window).OrderBy(c => c.Key.ToString()));

        var dir = Path.Combine(SourceDirectory(), "Fixtures", "tracepoint");
        File.WriteAllBytes(Path.Combine(dir, "ring-kfree_skb-6.18.bin"), bytes);
        File.WriteAllLines(Path.Combine(dir, "ring-kfree_skb-6.18.perf-script.txt"), window);
        File.WriteAllText(Path.Combine(dir, "ring-kfree_skb-6.18.snmp-before.txt"), snmpBefore);
        File.WriteAllText(Path.Combine(dir, "ring-kfree_skb-6.18.snmp-after.txt"), snmpAfter);
        // The text symbols perf named, each with the next one in address order (where it ends), from /proc/kallsyms.
        var named = PerfScriptCounts(window).Keys.Select(k => k.Function).ToHashSet();
        var text = File.ReadLines("/proc/kallsyms").Where(l => l.Split(' ', 3) is [_, "t" or "T", _])
            .Select(l => (Address: Convert.ToUInt64(l[..16], 16), Line: l)).OrderBy(s => s.Address).ToList();
        var lines = new SortedSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < text.Count; i++)
        {
            if (!named.Contains(text[i].Line.Split(' ', 3)[2].Split('\t')[0])) continue;
            lines.Add(text[i].Line);
            if (i + 1 < text.Count) lines.Add(text[i + 1].Line);
        }
        File.WriteAllLines(Path.Combine(dir, "ring-kfree_skb-6.18.kallsyms"), lines);
    }

    /// <summary>PERF_SAMPLE_TIME of every sample record (type 9): the u64 right after the 8-byte header.</summary>
    internal static List<long> SampleTimes(ReadOnlySpan<byte> bytes)
    {
        var times = new List<long>();
        while (bytes.Length >= 16)
        {
            var size = BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]);
            if (size < 8 || size > bytes.Length) break;
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes) == 9) times.Add(BinaryPrimitives.ReadInt64LittleEndian(bytes[8..]));
            bytes = bytes[size..];
        }
        return times;
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), "the kernel did not handle the test's datagrams within 60 s");
            await Task.Delay(20);
        }
    }

    private static string SourceDirectory([System.Runtime.CompilerServices.CallerFilePath] string path = "") =>
        Path.GetDirectoryName(Path.GetDirectoryName(path))!;

    /// <summary><c>perf record -e skb:kfree_skb -a</c> on CLOCK_MONOTONIC, the clock the rings stamp with, for recording fixtures.</summary>
    private sealed class PerfRecord : IDisposable
    {
        private readonly Process _process;
        private readonly string _data;

        private PerfRecord(Process process, string data)
        {
            _process = process;
            _data = data;
        }

        public static async Task<PerfRecord> StartAsync()
        {
            Privileged.RequireCommand("perf", "linux-perf");
            var data = Path.Combine(Path.GetTempPath(), $"dropboard-ring-{Guid.NewGuid():n}.perf.data");
            var psi = new ProcessStartInfo("perf") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
            foreach (var a in new[] { "record", "-e", "skb:kfree_skb", "-a", "-k", "CLOCK_MONOTONIC", "-o", data }) psi.ArgumentList.Add(a);
            var perf = new PerfRecord(Process.Start(psi)!, data);
            // perf writes its header once its events are open; the comparison in Record catches a late start.
            for (var i = 0; i < 200 && !(File.Exists(data) && new FileInfo(data).Length > 0); i++) await Task.Delay(50);
            await Task.Delay(1000);
            return perf;
        }

        public async Task<IReadOnlyList<string>> StopAsync()
        {
            Tmds.Linux.LibC.kill(_process.Id, Tmds.Linux.LibC.SIGINT);
            await _process.WaitForExitAsync();
            var (code, stdout, stderr) = Commands.TryRun("perf", "script", "-i", _data, "-F", "cpu,time,trace", "--ns");
            Assert.True(code == 0, stderr);
            return stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill();
            _process.Dispose();
            File.Delete(_data);
        }
    }
}
