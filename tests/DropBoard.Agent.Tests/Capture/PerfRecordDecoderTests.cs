using System.Buffers.Binary;
using DropBoard.Agent.Capture.Tracepoint;
using DropBoard.Agent.Symbols;
using DropBoard.Agent.Tests.Kernel;

namespace DropBoard.Agent.Tests.Capture;

/// <summary>The decoder on perf ring bytes recorded from real drops on 6.18, whole and damaged.</summary>
public class PerfRecordDecoderTests
{
    private static readonly TracepointFormat Format = TracepointFormat.Parse(Fixture.Text("tracepoint", "kfree_skb-format-6.18.txt"));
    private static readonly Symbolizer Symbols = Symbolizer.FromText(Fixture.Text("tracepoint", "ring-kfree_skb-6.18.kallsyms"));
    private static readonly byte[] Ring = Fixture.Bytes("tracepoint", "ring-kfree_skb-6.18.bin");

    private static Dictionary<(string, string?), long> Expected() =>
        File.ReadAllLines(Fixture.Path("tracepoint", "ring-kfree_skb-6.18.expected"))
            .Select(l => l.Split(' '))
            .ToDictionary(p => (p[1], (string?)p[0]), p => long.Parse(p[2]));

    [Fact]
    public void Recorded_ring_decodes_to_the_counts_the_kernel_reported()
    {
        var counts = RecordedRingTests.Decode(Ring, Format, Symbols, out var decoder);

        Assert.Equal(0, decoder.CorruptRecords);
        foreach (var (key, count) in Expected())
            Assert.Equal(count, counts[key]);
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
