using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Tmds.Linux;

namespace DropBoard.Benchmarks.Capture;

/// <summary>
/// Real drops at full speed: a UDP flood into a receiver with a tiny buffer in a fresh network namespace,
/// watched by dropboard-agent on the tracepoint, by dropboard-agent's eBPF source (flows sampled, and not) and by
/// <c>perf record -e skb:kfree_skb -a</c>. Prints drops/s, lost records and CPU seconds per million drops for each. Needs root.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- flood [seconds]</c>.
/// </summary>
internal static class FloodHarness
{
    public static int Run(string[] args)
    {
        var seconds = args.Length > 1 ? double.Parse(args[1]) : 4;
        var ns = $"dbflood-{Environment.ProcessId}";
        Sh("ip", "netns", "add", ns);
        try
        {
            Sh("ip", "-n", ns, "link", "set", "lo", "up");
            var agentDll = Path.Combine(AppContext.BaseDirectory, "dropboard-agent.dll");
            var agent = Measure("agent tracepoint", "dotnet", [agentDll, "watch", "--json", "--source", "tracepoint", "--seconds", $"{seconds + 3}"], "watching", ns, seconds);
            var bpf = Measure("agent bpf", "dotnet", [agentDll, "watch", "--json", "--source", "bpf", "--seconds", $"{seconds + 3}"], "watching", ns, seconds);
            var bpfNoFlows = Measure("agent bpf -flows", "dotnet", [agentDll, "watch", "--json", "--source", "bpf", "--flows", "0", "--seconds", $"{seconds + 3}"], "watching", ns, seconds);
            var perfData = Path.Combine(Path.GetTempPath(), $"dbflood-{Environment.ProcessId}.data");
            var perf = Measure("perf record", "perf", ["record", "-e", "skb:kfree_skb", "-a", "-o", perfData, "--", "sleep", $"{seconds + 3}"], null, ns, seconds);
            File.Delete(perfData);

            Console.WriteLine();
            Console.WriteLine($"{"tool",-16} {"drops",10} {"drops/s",10} {"seen",10} {"lost",8} {"CPU s",7} {"CPU s/M drops",14}");
            foreach (var r in new[] { agent, bpf, bpfNoFlows, perf })
                Console.WriteLine($"{r.Tool,-16} {r.Drops,10} {r.Drops / r.FloodSeconds,10:F0} {r.Seen?.ToString() ?? "-",10} {r.Lost?.ToString() ?? "?",8} {r.CpuSeconds,7:F2} {r.CpuSeconds / (r.Drops / 1e6),14:F3}");
            Console.WriteLine($"agent CPU per drop / perf CPU per drop = {(agent.CpuSeconds / agent.Drops) / (perf.CpuSeconds / perf.Drops):F2}");
            Console.WriteLine($"agent bpf CPU per drop / agent tracepoint = {(bpf.CpuSeconds / bpf.Drops) / (agent.CpuSeconds / agent.Drops):F2}, / perf = {(bpf.CpuSeconds / bpf.Drops) / (perf.CpuSeconds / perf.Drops):F2}");
            // Flows on (the default 100 a second) and off: the agent's own CPU; the program's per-drop cost is the kernel's, in drops/s.
            Console.WriteLine($"agent bpf (flows on) CPU per drop / perf = {(bpf.CpuSeconds / bpf.Drops) / (perf.CpuSeconds / perf.Drops):F3}, flows off / perf = {(bpfNoFlows.CpuSeconds / bpfNoFlows.Drops) / (perf.CpuSeconds / perf.Drops):F3}");
            Console.WriteLine($"flood drops/s with bpf flows on / flows off = {(bpf.Drops / bpf.FloodSeconds) / (bpfNoFlows.Drops / bpfNoFlows.FloodSeconds):F2}");
            return 0;
        }
        finally
        {
            Sh("ip", "netns", "del", ns);
        }
    }

    internal sealed record Result(string Tool, long Drops, double FloodSeconds, long? Seen, long? Lost, double CpuSeconds);

    internal static Result Measure(string tool, string file, string[] args, string? readyMarker, string ns, double seconds)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var stdout = new List<string>();
        var stderr = new List<string>();
        var ready = new ManualResetEventSlim(readyMarker is null);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.Add(e.Data); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr) stderr.Add(e.Data);
            if (readyMarker is not null && e.Data.Contains(readyMarker)) ready.Set();
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        ready.Wait(TimeSpan.FromSeconds(30));
        Thread.Sleep(readyMarker is null ? 1500 : 300); // perf prints nothing when ready: give it time to open its rings

        var cpuBefore = ProcessFigures.CpuSeconds(process.Id);
        var before = RcvbufErrors(ns);
        var watch = Stopwatch.StartNew();
        Flood(ns, TimeSpan.FromSeconds(seconds));
        var floodSeconds = watch.Elapsed.TotalSeconds;
        var drops = RcvbufErrors(ns) - before;
        Thread.Sleep(1000); // let the tool drain its rings
        var cpuAfter = ProcessFigures.CpuSeconds(process.Id);
        process.WaitForExit();

        long? seen = null, lost = null;
        if (tool.StartsWith("agent", StringComparison.Ordinal))
        {
            var summary = JsonDocument.Parse(stdout.Last(l => l.Contains("\"summary\""))).RootElement;
            seen = summary.GetProperty("drops").EnumerateArray().Where(d => d.GetProperty("reason").GetString() == "SOCKET_RCVBUFF").Sum(d => d.GetProperty("count").GetInt64());
            lost = summary.GetProperty("lost").GetInt64();
        }
        else
        {
            // perf warns "Processed N events and lost M chunks!" when its rings overflowed.
            var warning = stderr.FirstOrDefault(l => l.Contains("lost", StringComparison.OrdinalIgnoreCase) && l.Contains("chunks"));
            lost = warning is null ? 0 : long.Parse(warning.Split(' ').SkipWhile(w => w != "lost").Skip(1).First());
            Console.WriteLine($"// perf: {string.Join(" | ", stderr.Where(l => l.Contains("perf record") || l.Contains("lost")))}");
        }
        return new Result(tool, drops, floodSeconds, seen, lost, cpuAfter - cpuBefore);
    }

    private static unsafe void Flood(string ns, TimeSpan duration)
    {
        Socket? receiver = null, sender = null;
        var thread = new Thread(() =>
        {
            using var nsFile = File.OpenHandle($"/run/netns/{ns}");
            LibC.setns((int)nsFile.DangerousGetHandle(), LibC.CLONE_NEWNET);
            receiver = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp) { ReceiveBufferSize = 1024 };
            receiver.Bind(new IPEndPoint(IPAddress.Loopback, 9999));
            sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
            sender.Connect(new IPEndPoint(IPAddress.Loopback, 9999));
            var payload = new byte[32];
            var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < end)
                for (var i = 0; i < 1000; i++) sender.Send(payload);
        });
        thread.Start();
        thread.Join();
        receiver?.Dispose();
        sender?.Dispose();
    }

    private static long RcvbufErrors(string ns)
    {
        var lines = Sh("ip", "netns", "exec", ns, "cat", "/proc/net/snmp").Split('\n').Where(l => l.StartsWith("Udp: ")).ToArray();
        var names = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var values = lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(values[Array.IndexOf(names, "RcvbufErrors")]);
    }

    internal static string Sh(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return output;
    }
}
