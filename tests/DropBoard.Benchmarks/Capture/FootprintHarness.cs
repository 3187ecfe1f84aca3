using System.Diagnostics;
using DropBoard.TestKit;

namespace DropBoard.Benchmarks.Capture;

/// <summary>
/// What the agent costs a host: the published file's size; CPU, wall time and resident memory from start to "watching";
/// CPU while it watches an idle namespace; and over 2M-drop floods (a UDP flood into a tiny receive buffer) its peak
/// resident memory, records lost and CPU per drop as a ratio to <c>perf record -e skb:kfree_skb -a</c> on a flood of
/// the same size in the same run. Measured for the JIT build (<c>dotnet dropboard-agent.dll</c>) and for README's
/// published file. Holds the machine-wide kernel-test lock, so no other test's drops wake the agent. Needs root.
/// Run: <c>dotnet run -c Release --project tests/DropBoard.Benchmarks -- footprint [floods] [idle-seconds]</c>.
/// </summary>
internal static class FootprintHarness
{
    private const int Starts = 3;

    public static async Task<int> RunAsync(string[] args)
    {
        var floods = args.Length > 1 ? int.Parse(args[1]) : 3;
        var idleSeconds = args.Length > 2 ? double.Parse(args[2]) : 60;
        Console.WriteLine("// publishing the agent (dotnet publish src/Agent -c Release -r linux-x64) ...");
        using var published = PublishedAgent.Publish();
        var files = published.Files;
        Console.WriteLine($"// published in {published.Took.TotalSeconds:F0} s, {published.Warnings.Count} warnings");
        foreach (var warning in published.Warnings) Console.WriteLine($"//   {warning}");
        Console.WriteLine($"published: {files.Count} files, {files.Sum(f => new FileInfo(f).Length) / 1048576.0:F1} MiB; " +
                          $"dropboard-agent itself {new FileInfo(published.Executable).Length / 1048576.0:F1} MiB");

        using var ns = NetNamespace.Create("dbfoot");
        using var kernel = KernelTestLock.Acquire(holder: "footprint benchmark");
        var variants = new (string Name, Func<string[], AgentProcess> Start)[]
        {
            ("JIT (dotnet dll)", AgentProcess.Start),
            ("published", a => AgentProcess.StartExecutable(published.Executable, a)),
        };
        string[] watch = ["watch", "--source", "tracepoint", "--json", "--interval", "0.5", "--netns", ns.Name];

        Console.WriteLine();
        Console.WriteLine($"{"agent",-18} {"start wall s",12} {"start CPU-s",11} {"RSS MiB",8} {"idle CPU-s/20 s",16} {"idle RSS MiB",12}");
        foreach (var (name, start) in variants)
        {
            var starts = new List<(double Wall, double Cpu, double Rss)>();
            double idleCpu = 0, idleRss = 0;
            for (var i = 0; i < Starts; i++)
            {
                var clock = Stopwatch.StartNew();
                using var agent = start(watch);
                await agent.WaitUntilCapturingAsync();
                var wall = clock.Elapsed.TotalSeconds;
                starts.Add((wall, ProcessFigures.CpuSeconds(agent.Id), ProcessFigures.ResidentMiB(agent.Id).Rss));
                if (i == 0)
                {
                    // Settled first: what a quiet host pays around the clock, not the start's tail.
                    await Task.Delay(TimeSpan.FromSeconds(5));
                    var before = ProcessFigures.CpuSeconds(agent.Id);
                    await Task.Delay(TimeSpan.FromSeconds(idleSeconds));
                    idleCpu = (ProcessFigures.CpuSeconds(agent.Id) - before) * 20 / idleSeconds;
                    idleRss = ProcessFigures.ResidentMiB(agent.Id).Rss;
                }
                agent.Terminate();
                await agent.WaitForExitAsync();
            }
            Console.WriteLine($"{name,-18} {Floods.Median(starts.Select(s => s.Wall)),12:F2} {Floods.Median(starts.Select(s => s.Cpu)),11:F2} " +
                              $"{Floods.Median(starts.Select(s => s.Rss)),8:F1} {idleCpu,16:F3} {idleRss,12:F1}");
        }

        Console.WriteLine();
        Console.WriteLine($"{Floods.Datagrams / 1e6:0}M-datagram floods, each agent flood paired with perf record on a flood of the same size:");
        Console.WriteLine($"{"agent",-18} {"flood",5} {"drops",9} {"drops/s",9} {"seen",9} {"lost",7} {"peak RSS MiB",12} {"CPU-s",6} {"perf CPU-s",10} {"perf lost",9} {"CPU/drop vs perf",16}");
        var port = 9000;
        foreach (var (name, start) in variants)
        {
            var ratios = new List<double>();
            for (var i = 1; i <= floods; i++)
            {
                var agentFlood = await AgentFloodAsync(start(watch), ns, port++);
                var perfFlood = PerfFlood(ns, port++);
                var ratio = (agentFlood.Cpu / agentFlood.Drops) / (perfFlood.Cpu / perfFlood.Drops);
                ratios.Add(ratio);
                Console.WriteLine($"{name,-18} {i,5} {agentFlood.Drops,9} {agentFlood.Drops / agentFlood.Seconds,9:F0} {agentFlood.Seen,9} {agentFlood.Lost,7} " +
                                  $"{agentFlood.PeakRss,12:F1} {agentFlood.Cpu,6:F2} {perfFlood.Cpu,10:F2} {perfFlood.Lost,9} {ratio,16:F2}");
            }
            Console.WriteLine($"{name,-18} median CPU per drop vs perf record: {Floods.Median(ratios):F2}");
        }
        return 0;
    }

    private sealed record Flood(long Drops, double Seconds, long Seen, long Lost, double PeakRss, double Cpu);

    private static async Task<Flood> AgentFloodAsync(AgentProcess started, NetNamespace ns, int port)
    {
        using var agent = started;
        await agent.WaitUntilCapturingAsync();
        await Task.Delay(500);
        var cpuBefore = ProcessFigures.CpuSeconds(agent.Id);
        var (drops, seconds) = Floods.Run(ns, port);
        await Task.Delay(1500); // the same drain time perf gets
        var cpu = ProcessFigures.CpuSeconds(agent.Id) - cpuBefore;
        var peak = ProcessFigures.ResidentMiB(agent.Id).Peak;
        agent.Terminate();
        await agent.WaitForExitAsync();
        var summary = agent.Summary();
        var seen = summary.GetProperty("drops").EnumerateArray()
            .Where(d => d.GetProperty("reason").GetString() == "SOCKET_RCVBUFF").Sum(d => d.GetProperty("count").GetInt64());
        return new Flood(drops, seconds, seen, summary.GetProperty("lost").GetInt64(), peak, cpu);
    }

    private static Flood PerfFlood(NetNamespace ns, int port)
    {
        var data = Path.Combine(Path.GetTempPath(), $"dbfoot-{Environment.ProcessId}.data");
        var (started, stderr) = Floods.StartPerf(data);
        using var perf = started;
        Thread.Sleep(2000); // perf says nothing when its rings are open
        var cpuBefore = ProcessFigures.CpuSeconds(perf.Id);
        var (drops, seconds) = Floods.Run(ns, port);
        Thread.Sleep(1500);
        var cpu = ProcessFigures.CpuSeconds(perf.Id) - cpuBefore;
        var peak = ProcessFigures.ResidentMiB(perf.Id).Peak;
        Tmds.Linux.LibC.kill(perf.Id, Tmds.Linux.LibC.SIGINT);
        perf.WaitForExit();
        File.Delete(data);
        return new Flood(drops, seconds, 0, Floods.PerfLost(stderr.Result), peak, cpu);
    }
}
