using System.Diagnostics;
using DropBoard.TestKit;

namespace DropBoard.Benchmarks.Capture;

/// <summary>
/// Real drops at full speed: 2M-datagram floods into a receiver with a tiny buffer in a fresh network namespace, with
/// no capture (the baseline), dropboard-agent's eBPF source with flows off and on, <c>perf record -e skb:kfree_skb -a</c>
/// and dropboard-agent on the tracepoint. The modes alternate, in a rotated order each round, so none always goes
/// first. Per mode (medians of per-round ratios): the flood's time to the round's no-capture flood; the tool's CPU per
/// drop to perf record's; and the whole machine's busy CPU over the flood (/proc/stat) to no capture's, which holds
/// the kernel-side cost charged to the flooding process that a tool's own CPU misses (busy % shows how full the
/// machine was: near 100 %, other load hides the difference). Also drops, records lost, and whether the agent
/// counted every drop. Holds the machine-wide kernel-test lock. Needs root.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- flood [rounds]</c>.
/// </summary>
internal static class FloodHarness
{
    internal sealed record Mode(string Name, string[]? Agent = null, bool Perf = false);

    internal sealed record Result(long Drops, double FloodSeconds, double ToolCpu, double MachineCpu, long? Seen, long? Lost);

    private static readonly Mode[] Modes =
    [
        new("no capture"),
        new("bpf flows off", Agent: ["--source", "bpf", "--flows", "0"]),
        new("bpf flows on", Agent: ["--source", "bpf"]),
        new("perf record", Perf: true),
        new("tracepoint", Agent: ["--source", "tracepoint"]),
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        var rounds = args.Length > 1 ? int.Parse(args[1]) : 3;
        using var ns = NetNamespace.Create("dbflood");
        using var kernel = KernelTestLock.Acquire(holder: "flood benchmark");
        var results = Modes.ToDictionary(m => m, _ => new List<Result>());
        var port = 9000;
        Console.WriteLine($"{"round",5} {"mode",-14} {"drops",9} {"flood s",8} {"tool CPU-s",10} {"machine CPU-s",13} {"busy %",6} {"seen",9} {"lost",6}");
        for (var round = 0; round < rounds; round++)
            for (var i = 0; i < Modes.Length; i++)
            {
                var mode = Modes[(i + round) % Modes.Length];
                var r = await MeasureAsync(mode, ns, port++);
                results[mode].Add(r);
                Console.WriteLine($"{round + 1,5} {mode.Name,-14} {r.Drops,9} {r.FloodSeconds,8:F2} {r.ToolCpu,10:F2} {r.MachineCpu,13:F2} {100 * r.MachineCpu / (Environment.ProcessorCount * r.FloodSeconds),6:F0} {r.Seen?.ToString() ?? "-",9} {r.Lost?.ToString() ?? "-",6}");
            }

        var none = results[Modes[0]];
        var perf = results[Modes.Single(m => m.Perf)];
        Console.WriteLine();
        Console.WriteLine($"medians over {rounds} rounds of per-round ratios:");
        Console.WriteLine($"{"mode",-14} {"flood time / no capture",23} {"CPU per drop / perf record",26} {"machine CPU / no capture",24} {"lost",6} {"exact",6}");
        foreach (var mode in Modes)
        {
            var runs = results[mode];
            var time = Floods.Median(runs.Select((r, i) => r.FloodSeconds / none[i].FloodSeconds));
            var cpu = mode.Agent is null && !mode.Perf ? "-" : $"{Floods.Median(runs.Select((r, i) => r.ToolCpu / r.Drops / (perf[i].ToolCpu / perf[i].Drops))):F3}";
            var machine = Floods.Median(runs.Select((r, i) => r.MachineCpu / none[i].MachineCpu));
            var lost = mode.Agent is null && !mode.Perf ? "-" : runs.Sum(r => r.Lost ?? 0).ToString();
            var exact = mode.Agent is null ? "-" : $"{runs.Count(r => r.Seen == r.Drops)}/{runs.Count}";
            Console.WriteLine($"{mode.Name,-14} {time,23:F2} {cpu,26} {machine,24:F2} {lost,6} {exact,6}");
        }
        return 0;
    }

    internal static async Task<Result> MeasureAsync(Mode mode, NetNamespace ns, int port)
    {
        if (mode.Agent is { } options)
        {
            using var agent = AgentProcess.Start(["watch", "--json", "--netns", ns.Name, .. options]);
            await agent.WaitUntilCapturingAsync();
            await Task.Delay(500);
            var (drops, seconds, cpu, machine) = Watched(agent.Id, ns, port);
            agent.Terminate();
            await agent.WaitForExitAsync();
            var summary = agent.Summary();
            var seen = summary.GetProperty("drops").EnumerateArray()
                .Where(d => d.GetProperty("reason").GetString() == "SOCKET_RCVBUFF").Sum(d => d.GetProperty("count").GetInt64());
            return new Result(drops, seconds, cpu, machine, seen, summary.GetProperty("lost").GetInt64());
        }
        if (mode.Perf)
        {
            var data = Path.Combine(Path.GetTempPath(), $"dbflood-{Environment.ProcessId}.data");
            var (started, stderr) = Floods.StartPerf(data);
            using var perf = started;
            await Task.Delay(2000); // perf says nothing when its rings are open
            var (drops, seconds, cpu, machine) = Watched(perf.Id, ns, port);
            Tmds.Linux.LibC.kill(perf.Id, Tmds.Linux.LibC.SIGINT);
            await perf.WaitForExitAsync();
            File.Delete(data);
            return new Result(drops, seconds, cpu, machine, null, Floods.PerfLost(await stderr));
        }
        var busyBefore = MachineBusySeconds();
        var (noneDrops, noneSeconds) = Floods.Run(ns, port);
        return new Result(noneDrops, noneSeconds, 0, MachineBusySeconds() - busyBefore, null, null);
    }

    /// <summary>A flood watched by process <paramref name="pid"/>: its CPU includes 1.5 s after the flood to drain what it queued.</summary>
    private static (long Drops, double Seconds, double ToolCpu, double MachineCpu) Watched(int pid, NetNamespace ns, int port)
    {
        var cpuBefore = ProcessFigures.CpuSeconds(pid);
        var busyBefore = MachineBusySeconds();
        var (drops, seconds) = Floods.Run(ns, port);
        var machine = MachineBusySeconds() - busyBefore;
        Thread.Sleep(1500);
        return (drops, seconds, ProcessFigures.CpuSeconds(pid) - cpuBefore, machine);
    }

    /// <summary>Every CPU's non-idle time so far (/proc/stat's first line less idle and iowait), in seconds (ticks of 1/100 s).</summary>
    private static double MachineBusySeconds()
    {
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..].Select(long.Parse).ToArray();
        // user nice system idle iowait irq softirq steal (guest time is already in user).
        return (fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]) / 100.0;
    }
}
