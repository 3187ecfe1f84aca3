using System.Buffers.Binary;
using System.Runtime.InteropServices;
using DropBoard.Agent.Capture.Tracepoint;

namespace DropBoard.Agent.Tests.Capture;

/// <summary>
/// The copy-out on a ring in memory, written as the kernel writes one (whole records at data_head, wrapping past the
/// end) with the records of a real ring recorded on 6.18: what comes out is those records, in order, unwrapped.
/// </summary>
public sealed unsafe class PerfRingTests
{
    private static readonly byte[] Recorded = Fixture.Bytes("tracepoint", "ring-kfree_skb-6.18.bin");

    [Theory]
    [InlineData(4096, 1)]     // read after every record
    [InlineData(4096, 7)]
    [InlineData(16384, 50)]   // records wrapping past the end mid-record, many reads
    [InlineData(65536, 1000)] // the whole recording in one read
    public void Copied_out_bytes_are_the_records_written_in_order_however_they_wrap(int size, int recordsPerRead)
    {
        var memory = (byte*)NativeMemory.AllocZeroed((nuint)(16 + size));
        try
        {
            ulong* head = (ulong*)memory, tail = head + 1;
            var data = memory + 16;
            // Start near the end so the first records wrap.
            *head = *tail = (ulong)size - 40;
            var ring = new PerfRing(head, tail, data, size);
            var copied = new List<byte>();

            var written = 0;
            for (var at = 0; at < Recorded.Length; written++)
            {
                var record = Recorded.AsSpan(at, BinaryPrimitives.ReadUInt16LittleEndian(Recorded.AsSpan(at + 6)));
                if ((long)(*head - *tail) + record.Length > size || written % recordsPerRead == 0) Read(ring, head, tail, copied);
                for (var i = 0; i < record.Length; i++) data[(int)((*head + (ulong)i) & (ulong)(size - 1))] = record[i];
                *head += (ulong)record.Length;
                at += record.Length;
            }
            Read(ring, head, tail, copied);

            Assert.Equal(Recorded, copied.ToArray());
            Assert.Equal(0, ring.Unread);
        }
        finally
        {
            NativeMemory.Free(memory);
        }
    }

    /// <summary>What the copy-out thread does with a ring: everything unread, and the space given back.</summary>
    private static void Read(PerfRing ring, ulong* head, ulong* tail, List<byte> copied)
    {
        var chunk = new byte[ring.Unread];
        ring.CopyOut(chunk);
        copied.AddRange(chunk);
        Assert.Equal(*head, *tail);
    }
}
