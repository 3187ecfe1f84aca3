using System.Buffers.Binary;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture.Tracepoint;
using DropBoard.Agent.Symbols;
using DropBoard.Agent.Tests.Kernel;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Capture;

/// <summary>The decoder on perf ring bytes recorded from real drops on 6.18, whole and damaged.</summary>
public class PerfRecordDecoderTests
{
    private static readonly TracepointFormat Format = TracepointFormat.Parse(Fixture.Text("tracepoint", "kfree_skb-format-6.18.txt"));
    private static readonly Symbolizer Symbols = Symbolizer.FromText(Fixture.Text("tracepoint", "ring-kfree_skb-6.18.kallsyms"));
    private static readonly byte[] Ring = Fixture.Bytes("tracepoint", "ring-kfree_skb-6.18.bin");

    [Fact]
    public void Recorded_ring_decodes_to_what_perf_script_made_of_the_same_events()
    {
        var counts = RecordedRingTests.Decode(Ring, Format, Symbols, out var decoder);

        Assert.Equal(0, decoder.CorruptRecords);
        // perf record ran beside the rings while they were recorded: its decoder, reason names and symbols, not ours.
        var perf = RecordedRingTests.PerfScriptCounts(File.ReadLines(Fixture.Path("tracepoint", "ring-kfree_skb-6.18.perf-script.txt")));
        Assert.NotEmpty(perf);
        Assert.Equal(perf.OrderBy(c => c.Key.ToString()), counts.OrderBy(c => c.Key.ToString()));
    }

    [Fact]
    public async Task Recorded_ring_decodes_per_site_to_what_a_python_struct_decode_of_the_same_bytes_finds()
    {
        Privileged.RequireCommand("python3", "python3");
        var aggregator = new DropAggregator(Symbols);
        new PerfRecordDecoder(KfreeSkbLayout.From(Format), Format.ReasonNames, aggregator, clockOffsetNs: 0).DecodeAll(Ring);
        aggregator.Commit();
        var ours = aggregator.Flush().GroupBy(b => $"{b.Site} {b.Reason}").ToDictionary(g => g.Key, g => g.Sum(b => b.Count));

        // Fixtures/tracepoint/decode-ring.py: offsets and reason names from the format file, records walked with struct.
        var (code, stdout, stderr) = await Task.Run(() => Commands.TryRun("python3", Fixture.Path("tracepoint", "decode-ring.py"),
            Fixture.Path("tracepoint", "ring-kfree_skb-6.18.bin"), Fixture.Path("tracepoint", "kfree_skb-format-6.18.txt"), Fixture.Path("tracepoint", "ring-kfree_skb-6.18.kallsyms")));
        Assert.True(code == 0, stderr);
        var python = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', 2))
            .ToDictionary(p => p[1], p => long.Parse(p[0]));
        Assert.Equal(python.OrderBy(s => s.Key, StringComparer.Ordinal), ours.OrderBy(s => s.Key, StringComparer.Ordinal));
    }

    [Fact]
    public void Recorded_ring_has_at_the_test_sites_exactly_the_drops_the_namespace_counted()
    {
        var counts = RecordedRingTests.Decode(Ring, Format, Symbols, out _);
        var before = Fixture.Text("tracepoint", "ring-kfree_skb-6.18.snmp-before.txt");
        var after = Fixture.Text("tracepoint", "ring-kfree_skb-6.18.snmp-after.txt");
        long Rise(string counter) => RecordedRingTests.Counter(after, counter) - RecordedRingTests.Counter(before, counter);

        Assert.Equal(300, Rise("Udp.NoPorts"));
        Assert.Equal(Rise("Udp.NoPorts"), RecordedRingTests.At(counts, "NO_SOCKET", RecordedRingTests.UdpNoPortSites));
        Assert.InRange(Rise("Udp.RcvbufErrors"), 1, 200);
        Assert.Equal(Rise("Udp.RcvbufErrors"), RecordedRingTests.At(counts, "SOCKET_RCVBUFF", RecordedRingTests.UdpQueueSites));
    }

    [Fact]
    public void A_truncated_ring_keeps_every_whole_record_before_the_cut()
    {
        var full = RecordedRingTests.Decode(Ring, Format, Symbols, out var whole).Values.Sum();
        var random = new Random(7);
        for (var i = 0; i < 200; i++)
        {
            var cut = random.Next(1, Ring.Length);
            var counts = RecordedRingTests.Decode(Ring[..cut], Format, Symbols, out var decoder);
            var records = WholeRecordsIn(Ring.AsSpan(0, cut));
            Assert.Equal(records.Samples, decoder.Samples);
            Assert.Equal(records.Clean ? 0 : 1, decoder.CorruptRecords);
            Assert.True(counts.Values.Sum() <= full);
        }
        Assert.Equal(0, whole.CorruptRecords);
    }

    [Fact]
    public void A_record_whose_raw_size_overruns_it_is_counted_as_corrupt_and_the_next_ones_still_count()
    {
        var damaged = (byte[])Ring.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(damaged.AsSpan(24), 5000); // first record's raw size

        RecordedRingTests.Decode(damaged, Format, Symbols, out var decoder);

        Assert.Equal(1, decoder.CorruptRecords);
        Assert.Contains("raw size 5000", decoder.LastError);
        Assert.Equal(WholeRecordsIn(Ring).Samples - 1, decoder.Samples);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(4)]
    [InlineData(60000)]
    public void A_record_header_with_an_impossible_size_stops_the_walk_without_throwing(ushort size)
    {
        var damaged = (byte[])Ring.Clone();
        var second = BinaryPrimitives.ReadUInt16LittleEndian(Ring.AsSpan(6));
        BinaryPrimitives.WriteUInt16LittleEndian(damaged.AsSpan(second + 6), size);

        RecordedRingTests.Decode(damaged, Format, Symbols, out var decoder);

        Assert.Equal(1, decoder.Samples);
        Assert.Equal(1, decoder.CorruptRecords);
        Assert.Contains($"record size {size}", decoder.LastError);
    }

    [Fact]
    public void Lost_records_notices_are_counted()
    {
        var lost = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(lost, 2); // PERF_RECORD_LOST
        BinaryPrimitives.WriteUInt16LittleEndian(lost.AsSpan(6), 24);
        BinaryPrimitives.WriteUInt64LittleEndian(lost.AsSpan(16), 4242);

        RecordedRingTests.Decode([.. Ring, .. lost], Format, Symbols, out var decoder);

        Assert.Equal(4242, decoder.LostRecords);
    }

    [Fact]
    public void A_reason_number_the_format_does_not_name_stays_visible()
    {
        var damaged = (byte[])Ring.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(damaged.AsSpan(28 + 36), 999); // first record's reason

        var counts = RecordedRingTests.Decode(damaged, Format, Symbols, out _);

        Assert.Contains(counts.Keys, k => k.Item2 == "REASON_999");
    }

    private static (long Samples, bool Clean) WholeRecordsIn(ReadOnlySpan<byte> bytes)
    {
        long samples = 0;
        while (bytes.Length >= 8)
        {
            var size = BinaryPrimitives.ReadUInt16LittleEndian(bytes[6..]);
            if (size > bytes.Length) return (samples, false);
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes) == 9) samples++;
            bytes = bytes[size..];
        }
        return (samples, bytes.Length == 0);
    }
}
