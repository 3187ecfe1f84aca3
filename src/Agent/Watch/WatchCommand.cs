using System.CommandLine;
using DropBoard.Agent.Capture;
using DropBoard.Agent.Capture.NetDm;
using DropBoard.Agent.Capture.Tracepoint;
using DropBoard.Agent.Pipeline;
using DropBoard.Agent.Privileges;

namespace DropBoard.Agent.Watch;

/// <summary><c>dropboard-agent watch</c>: dropwatch and netstat -s in one terminal, with a summary at the end.</summary>
public static class WatchCommand
{
    public static readonly Option<SourceKind> SourceOption = new("--source")
    {
        Description = "Where drops come from: auto (bpf, else NET_DM, else the tracepoint), bpf (counted in the kernel, per namespace), netdm, tracepoint",
        DefaultValueFactory = _ => SourceKind.Auto,
    };

    public static readonly Option<string?> NetNsOption = new("--netns")
    {
        Description = "Read the counters of this network namespace (ip netns name) instead of the agent's own",
    };

    public static readonly Option<bool> ConsumeOption = new("--consume")
    {
        Description = "Also count normal frees (skb:consume_skb) per site, to tell drop sites from places that free packets they are done with",
    };

    public static readonly Option<NetDmMode> ModeOption = new("--mode")
    {
        Description = "NET_DM alert mode: summary (the kernel counts per site, cheapest) or packet (every dropped packet with its reason, time and headers)",
        DefaultValueFactory = _ => NetDmMode.Summary,
    };

    public static readonly Option<int> RingKbOption = RingKb();

    public static readonly Option<bool> StacksOption = new("--stacks")
    {
        Description = "bpf source: count each site's drops per kernel stack, to show the paths that lead to it (top paths per site)",
    };

    /// <summary>Refuses --stacks with a source that has no stacks: only the eBPF program counts them.</summary>
    public static void RefuseStacksWithoutBpf(System.CommandLine.Parsing.CommandResult result)
    {
        if (result.GetValue(StacksOption) && result.GetValue(SourceOption) is SourceKind.NetDm or SourceKind.Tracepoint)
            result.AddError($"--stacks needs --source bpf (or auto, which uses it where the kernel has BTF): {result.GetValue(SourceOption).ToString().ToLowerInvariant()} has no kernel stacks");
    }

    public static readonly Option<int> FlowsOption = Flows();

    private static Option<int> Flows()
    {
        var option = new Option<int>("--flows")
        {
            Description = "bpf source: dropped packets' headers sampled a second at most, for the top dropped flows per site "
                          + $"(0 for none, at most {Capture.Bpf.BpfSource.MaxFlowsPerSecond}); the drops not sampled are counted and said",
            DefaultValueFactory = _ => AgentOptions.DefaultFlowsPerSecond,
        };
        option.Validators.Add(r =>
        {
            var perSecond = r.GetValueOrDefault<int>();
            if (perSecond < 0 || perSecond > Capture.Bpf.BpfSource.MaxFlowsPerSecond)
                r.AddError($"--flows {perSecond} is not from 0 to {Capture.Bpf.BpfSource.MaxFlowsPerSecond} (samples a second)");
        });
        return option;
    }

    private static Option<int> RingKb()
    {
        var option = new Option<int>("--ring-kb")
        {
            Description = "Tracepoint source: each CPU's perf ring in KiB, a power of two; what a burst can drop before the agent reads it "
                          + "(4096 holds ~58k drops, ~40 ms of the fastest flood one CPU makes)",
            DefaultValueFactory = _ => TracepointSource.DefaultRingKb,
        };
        option.Validators.Add(r =>
        {
            var kb = r.GetValueOrDefault<int>();
            if (kb < 4 || kb > 1 << 20 || (kb & (kb - 1)) != 0)
                r.AddError($"--ring-kb {kb} is not a power of two from 4 to 1048576 (KiB per CPU): try 1024, 4096 or 16384");
        });
        return option;
    }

    public static Command Create()
    {
        var pcap = new Option<string?>("--pcap")
        {
            Description = "Write the dropped packets to this pcapng file, each with its drop site and reason as the packet comment (NET_DM packet mode)",
        };
        var recordNetlink = new Option<string?>("--record-netlink")
        {
            Description = "Write every NET_DM netlink message sent and received to this file as hex lines (for bug reports and test fixtures)",
        };
        var seconds = new Option<double?>("--seconds") { Description = "Stop after this many seconds (default: until Ctrl-C)" };
        var json = new Option<bool>("--json") { Description = "One JSON object per line instead of text" };
        var interval = new Option<double>("--interval")
        {
            Description = "Seconds between live lines and counter samples",
            DefaultValueFactory = _ => 1.0,
        };
        var command = new Command("watch", "Print kernel packet drops and counter deltas live, then a summary")
        {
            SourceOption, seconds, json, interval, NetNsOption, ConsumeOption, RingKbOption, FlowsOption, StacksOption, ModeOption, pcap, recordNetlink, PrivilegeDrop.UserOption,
        };
        command.Validators.Add(RefuseStacksWithoutBpf);
        command.SetAction(async (result, cancellationToken) =>
        {
            var options = new AgentOptions
            {
                Source = result.GetValue(SourceOption),
                NetNamespace = result.GetValue(NetNsOption),
                ConsumeSkb = result.GetValue(ConsumeOption),
                RingKb = result.GetValue(RingKbOption),
                FlowsPerSecond = result.GetValue(FlowsOption),
                Stacks = result.GetValue(StacksOption),
                NetDm = new NetDmOptions
                {
                    // --pcap means packets: no need to say --mode packet as well.
                    Mode = result.GetValue(pcap) is null ? result.GetValue(ModeOption) : NetDmMode.Packet,
                    PcapPath = result.GetValue(pcap),
                    RecordPath = result.GetValue(recordNetlink),
                },
                CounterInterval = TimeSpan.FromSeconds(Math.Max(0.1, result.GetValue(interval))),
            };
            return await RunAsync(options, result.GetValue(seconds), result.GetValue(json), result.GetValue(interval), result.GetValue(PrivilegeDrop.UserOption), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(AgentOptions options, double? seconds, bool json, double intervalSeconds, string? user, CancellationToken cancellationToken)
    {
        if (await CaptureStart.StartOrSayWhyAsync(options) is not { } pipeline) return ExitCodes.CannotCapture;
        if (!await PrivilegeDrop.DropOrSayWhyAsync(pipeline, options, user))
        {
            await pipeline.DisposeAsync();
            return ExitCodes.PrivilegeDrop;
        }

        await Console.Error.WriteLineAsync($"dropboard-agent: {pipeline.SourceNote}; watching{(seconds is null ? " until Ctrl-C" : $" for {seconds} s")}");
        foreach (var problem in pipeline.CounterProblems)
            await Console.Error.WriteLineAsync($"dropboard-agent: counters: {problem}");

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (seconds is { } s) stop.CancelAfter(TimeSpan.FromSeconds(s));
        stop.Token.Register(() => _ = pipeline.DisposeAsync().AsTask());

        var total = new WatchTotals();
        var interval = new WatchTotals();
        var nextPrint = Environment.TickCount64 + (long)(intervalSeconds * 1000);
        var exitCode = 0;
        try
        {
            await foreach (var batch in pipeline.Batches.ReadAllAsync(CancellationToken.None))
            {
                interval.Add(batch);
                if (Environment.TickCount64 < nextPrint) continue;
                nextPrint += (long)(intervalSeconds * 1000);
                Print(interval, json, total, pipeline.Source.LostRecordsFix);
                interval = new WatchTotals();
            }
        }
        catch (Exception e)
        {
            await Console.Error.WriteLineAsync($"dropboard-agent: capture stopped: {e.Message}");
            exitCode = 4;
        }
        Print(interval, json, total, pipeline.Source.LostRecordsFix);
        await pipeline.DisposeAsync();
        if (pipeline.Source.CorruptRecords > 0 || pipeline.Source.LastError is not null)
            await Console.Error.WriteLineAsync($"dropboard-agent: {pipeline.Source.CorruptRecords} malformed records skipped; last problem: {pipeline.Source.LastError}");
        if (pipeline.Source is Capture.Bpf.BpfSource { PathsLost: > 0 and var pathsLost })
            await Console.Error.WriteLineAsync($"dropboard-agent: {pathsLost} drops are counted but on no path: the kernel's path map (--stacks) was full");
        Console.WriteLine(WatchOutput.Summary(total, pipeline.Source.Name, WatchOutput.Explain(total, pipeline.Hello.KernelRelease, options.BucketMs), json));
        return exitCode;
    }

    private static void Print(WatchTotals interval, bool json, WatchTotals total, string? lostFix)
    {
        foreach (var line in WatchOutput.IntervalLines(interval, json, lostFix)) Console.WriteLine(line);
        total.Add(interval);
    }
}
