using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DropBoard.TestKit;

namespace DropBoard.Benchmarks.Capture;

/// <summary>The 2M-datagram floods the capture benchmarks measure tools on, and <c>perf record</c> as the reference tool.</summary>
internal static class Floods
{
    public const int Datagrams = 2_000_000;

    /// <summary>
    /// <see cref="Datagrams"/> small datagrams into a receiver that never reads and holds a few: nearly every one a
    /// receive-buffer drop. Returns the namespace's RcvbufErrors rise and how long the sending took.
    /// </summary>
    public static (long Drops, double Seconds) Run(NetNamespace ns, int port)
    {
        var before = ns.Snmp("Udp", "RcvbufErrors");
        using var receiver = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.ReceiveBufferSize = 1024;
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, port));
        using var sender = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        sender.Connect(new IPEndPoint(IPAddress.Loopback, port));
        var payload = new byte[32];
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < Datagrams; i++) sender.Send(payload);
        var seconds = clock.Elapsed.TotalSeconds;
        return (ns.Snmp("Udp", "RcvbufErrors") - before, seconds);
    }

    /// <summary><c>perf record -e skb:kfree_skb -a</c> into <paramref name="data"/>, its stderr collected; stop it with SIGINT.</summary>
    public static (Process Perf, Task<string> Stderr) StartPerf(string data)
    {
        var psi = new ProcessStartInfo("perf") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "record", "-e", "skb:kfree_skb", "-a", "-o", data }) psi.ArgumentList.Add(a);
        var perf = Process.Start(psi)!;
        return (perf, perf.StandardError.ReadToEndAsync());
    }

    /// <summary>The chunks perf says it lost ("Processed N events and lost M chunks!" when its rings overflowed), 0 when it says none.</summary>
    public static long PerfLost(string stderr)
    {
        var words = stderr.Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
        var lostAt = Array.IndexOf(words, "lost");
        return lostAt > 0 && long.TryParse(words[lostAt + 1], out var n) ? n : 0;
    }

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
