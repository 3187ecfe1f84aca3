namespace DropBoard.Agent.Capture.Tracepoint;

/// <summary>
/// The data area of a perf ring: the kernel writes at data_head, we consume from data_tail. Records are
/// 8-byte aligned; one that wraps past the end is copied into a scratch buffer so the decoder always sees
/// contiguous bytes.
/// </summary>
internal sealed unsafe class PerfRing(ulong* head, ulong* tail, byte* data, int size)
{
    private readonly byte[] _scratch = new byte[65536];

    /// <summary>The unread bytes, in order, without consuming them: how test fixtures are recorded.</summary>
    public byte[] Snapshot()
    {
        var h = Volatile.Read(ref *head);
        var t = *tail;
        var bytes = new byte[h - t];
        for (var i = 0UL; i < h - t; i++) bytes[i] = data[(int)((t + i) & ((ulong)size - 1))];
        return bytes;
    }

    /// <summary>Hands every complete record to the decoder, then releases the space to the kernel.</summary>
    public void Drain(PerfRecordDecoder decoder)
    {
        // Acquire: record bytes written before data_head must be visible before we read them.
        var h = Volatile.Read(ref *head);
        var t = *tail;
        var mask = (ulong)size - 1;
        while (t < h)
        {
            var offset = (int)(t & mask);
            var available = h - t;
            if (available < 8)
            {
                decoder.Corrupt($"{available} bytes left, less than a record header");
                t = h;
                break;
            }
            var recordSize = *(ushort*)(data + offset + 6);
            if (recordSize < 8 || recordSize > available)
            {
                // The ring cannot be walked past a bad header: skip what the kernel has written so far.
                decoder.Corrupt($"record size {recordSize} with {available} bytes available");
                t = h;
                break;
            }

            ReadOnlySpan<byte> record;
            if (offset + recordSize <= size)
            {
                record = new ReadOnlySpan<byte>(data + offset, recordSize);
            }
            else
            {
                var first = size - offset;
                new ReadOnlySpan<byte>(data + offset, first).CopyTo(_scratch);
                new ReadOnlySpan<byte>(data, recordSize - first).CopyTo(_scratch.AsSpan(first));
                record = _scratch.AsSpan(0, recordSize);
            }
            decoder.Decode(record);
            t += recordSize;
        }
        // Release: we are done reading before the kernel may overwrite.
        Volatile.Write(ref *tail, t);
    }
}
