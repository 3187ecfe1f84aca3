using System.Buffers.Binary;
using DropBoard.Agent.Capture.Bpf;

namespace DropBoard.Agent.Tests.Capture.Bpf;

public class DropMapDeltasTests
{
    [Fact]
    public void A_key_is_read_in_the_programs_struct_drop_key_layout()
    {
        // struct drop_key { u64 location; u32 reason; u32 netns; u16 protocol; u16 pad[3]; } as the kernel hands it over.
        var bytes = new byte[DropKey.Size];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 0xffffffff82046a90 + 0x4bc);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), 6);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), 4026532291);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(16), 0x0800);

        Assert.Equal(new DropKey(0xffffffff82046f4c, 6, 4026532291, 0x0800), DropKey.Read(bytes));
    }

    [Fact]
    public void Each_read_yields_the_drops_and_sampled_drops_since_the_previous_summed_over_CPUs()
    {
        var deltas = new DropMapDeltas(cpus: 3);
        var udp = new DropKey(0xffffffff82046f4c, 6, 4026532291, 0x0800);
        var other = udp with { Netns = 4026531840 };

        Assert.Equal((7, 2), deltas.Update(udp, PerCpu((2, 1), (0, 0), (5, 1))));
        Assert.Equal((1, 0), deltas.Update(other, PerCpu((0, 0), (1, 0), (0, 0))));
        Assert.Equal((10, 3), deltas.Update(udp, PerCpu((2, 1), (10, 3), (5, 1))));
        Assert.Equal((0, 0), deltas.Update(udp, PerCpu((2, 1), (10, 3), (5, 1))));
        Assert.Equal(17ul, deltas.Totals[udp]);
        Assert.Equal(5ul, deltas.SampledTotals[udp]);
        Assert.Equal(2, deltas.Keys);
    }

    [Fact]
    public void A_total_that_went_down_is_a_new_map_and_counts_whole()
    {
        var deltas = new DropMapDeltas(cpus: 2);
        var key = new DropKey(1, 2, 3, 4);
        deltas.Update(key, PerCpu((100, 10), (100, 10)));

        Assert.Equal((5, 1), deltas.Update(key, PerCpu((3, 1), (2, 0))));
    }

    [Fact]
    public void Values_beyond_32_bits_are_kept()
    {
        var deltas = new DropMapDeltas(cpus: 2);
        var overflow = new byte[16];
        BinaryPrimitives.WriteUInt64LittleEndian(overflow, 4_000_000_000);
        BinaryPrimitives.WriteUInt64LittleEndian(overflow.AsSpan(8), 1_000_000_000);

        Assert.Equal(5_000_000_000ul, deltas.Sum(overflow));
        Assert.Equal((5_000_000_000, 0), deltas.Update(new DropKey(1, 2, 3, 4), PerCpu((4_000_000_000, 0), (1_000_000_000, 0))));
    }

    /// <summary>Each CPU's struct drop_count { u64 drops; u64 sampled; }.</summary>
    private static byte[] PerCpu(params (ulong Drops, ulong Sampled)[] values)
    {
        var bytes = new byte[values.Length * DropMapDeltas.ValueSize];
        for (var i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * DropMapDeltas.ValueSize), values[i].Drops);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * DropMapDeltas.ValueSize + 8), values[i].Sampled);
        }
        return bytes;
    }
}
