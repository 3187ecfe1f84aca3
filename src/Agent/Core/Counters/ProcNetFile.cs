using Microsoft.Win32.SafeHandles;

namespace DropBoard.Agent.Counters;

/// <summary>
/// One /proc/net file kept open and re-read from offset 0 into a reused buffer: procfs regenerates the
/// text on every read from the start. The open file stays bound to the namespace it was opened in
/// (seq_open_net takes the namespace at open), whichever thread reads it later.
/// </summary>
internal sealed class ProcNetFile(string path, SafeFileHandle handle, int initialBufferSize = 16 * 1024) : IDisposable
{
    private byte[] _buffer = new byte[initialBufferSize];

    public string Path { get; } = path;

    public ReadOnlySpan<byte> ReadAll()
    {
        var length = 0;
        while (true)
        {
            if (length == _buffer.Length) Array.Resize(ref _buffer, _buffer.Length * 2);
            var n = RandomAccess.Read(handle, _buffer.AsSpan(length), length);
            if (n == 0) return _buffer.AsSpan(0, length);
            length += n;
        }
    }

    public void Dispose() => handle.Dispose();
}
