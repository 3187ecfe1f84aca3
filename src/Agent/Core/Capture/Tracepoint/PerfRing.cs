namespace DropBoard.Agent.Capture.Tracepoint;

/// <summary>
/// The data area of a perf ring: the kernel writes at data_head, we consume from data_tail. The kernel moves data_head
/// only past whole records, so the unread bytes are always a run of whole records, which may wrap past the end.
/// </summary>
internal sealed unsafe class PerfRing(ulong* head, ulong* tail, byte* data, int size)
{
    public int Size => size;

    /// <summary>The unread bytes, in order, without consuming them: how test fixtures are recorded.</summary>
    public byte[] Snapshot()
    {
        var bytes = new byte[Unread];
        Copy(*tail, bytes);
        return bytes;
    }

    /// <summary>Bytes the kernel has written and we have not consumed: whole records.</summary>
    // Acquire: record bytes written before data_head must be visible before we read them.
    public int Unread => (int)(Volatile.Read(ref *head) - *tail);

    /// <summary>
    /// Copies the first <paramref name="destination"/>.Length unread bytes (no more than <see cref="Unread"/>, whole
    /// records) out of the ring, unwrapped, and gives their space back to the kernel at once.
    /// </summary>
    public void CopyOut(Span<byte> destination)
    {
        var t = *tail;
        Copy(t, destination);
        // Release: we are done reading before the kernel may overwrite.
        Volatile.Write(ref *tail, t + (ulong)destination.Length);
    }

    private void Copy(ulong from, Span<byte> destination)
    {
        var offset = (int)(from & ((ulong)size - 1));
        var first = Math.Min(destination.Length, size - offset);
        new ReadOnlySpan<byte>(data + offset, first).CopyTo(destination);
        new ReadOnlySpan<byte>(data, destination.Length - first).CopyTo(destination[first..]);
    }
}
