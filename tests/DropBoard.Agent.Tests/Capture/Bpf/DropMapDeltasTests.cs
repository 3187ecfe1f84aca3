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
    public void Each_read_yields_the_drops_since_the_previous_summed_over_CPUs()
    {
        var deltas = new DropMapDeltas(cpus: 3);
        var udp = new DropKey(0xffffffff82046f4c, 6, 4026532291, 0x0800);
        var other = udp with { Netns = 4026531840 };

        Assert.Equal(7, deltas.Update(udp, PerCpu(2, 0, 5)));
        Assert.Equal(1, deltas.Update(other, PerCpu(0, 1, 0)));
        Assert.Equal(10, deltas.Update(udp, PerCpu(2, 10, 5)));
        Assert.Equal(0, deltas.Update(udp, PerCpu(2, 10, 5)));
        Assert.Equal(17ul, deltas.Totals[udp]);
        Assert.Equal(2, deltas.Keys);
    }

    [Fact]
    public void A_total_that_went_down_is_a_new_map_and_counts_whole()
    {
        var deltas = new DropMapDeltas(cpus: 2);
        var key = new DropKey(1, 2, 3, 4);
        deltas.Update(key, PerCpu(100, 100));

        Assert.Equal(5, deltas.Update(key, PerCpu(3, 2)));
    }

    [Fact]
    public void Values_beyond_32_bits_are_kept()
    {
        var deltas = new DropMapDeltas(cpus: 2);

        Assert.Equal(5_000_000_000ul, deltas.Sum(PerCpu(4_000_000_000, 1_000_000_000)));
    }

    private static byte[] PerCpu(params ulong[] values)
    {
        var bytes = new byte[values.Length * 8];
        for (var i = 0; i < values.Length; i++) BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(i * 8), values[i]);
        return bytes;
    }
}
