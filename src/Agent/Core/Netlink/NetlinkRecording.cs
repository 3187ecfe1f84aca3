namespace DropBoard.Agent.Netlink;

/// <summary>
/// Netlink traffic as text, one datagram per line: <c>request|reply|event HEX</c>; <c>#</c> starts a comment.
/// <c>watch --record-netlink FILE</c> writes it (for bug reports); the tests and the benchmark read real
/// recordings made this way.
/// </summary>
public sealed class NetlinkRecording : IDisposable
{
    private readonly StreamWriter _writer;
    private readonly Lock _gate = new();

    private NetlinkRecording(StreamWriter writer) => _writer = writer;

    public static NetlinkRecording Create(string path, string header)
    {
        var writer = new StreamWriter(path) { AutoFlush = true };
        foreach (var line in header.Split('\n')) writer.WriteLine($"# {line}");
        return new NetlinkRecording(writer);
    }

    public void Write(string kind, ReadOnlySpan<byte> datagram)
    {
        lock (_gate) _writer.WriteLine($"{kind} {Convert.ToHexStringLower(datagram)}");
    }

    public static IReadOnlyList<(string Kind, byte[] Bytes)> Read(string path)
    {
        var datagrams = new List<(string, byte[])>();
        var number = 0;
        foreach (var line in File.ReadLines(path))
        {
            number++;
            if (line.Length == 0 || line[0] == '#') continue;
            var space = line.IndexOf(' ');
            if (space <= 0) throw new FormatException($"{path}:{number}: expected 'kind hex'");
            datagrams.Add((line[..space], Convert.FromHexString(line.AsSpan(space + 1))));
        }
        return datagrams;
    }

    public void Dispose()
    {
        lock (_gate) _writer.Dispose();
    }
}
