using DropBoard.Agent.Capture.Bpf;
using DropBoard.Agent.Capture.NetDm;
using DropBoard.Agent.Capture.Tracepoint;
using DropBoard.Agent.Pipeline;

namespace DropBoard.Agent.Capture;

/// <summary>Picks the best drop source the kernel offers and says which one, and why.</summary>
public static class DropSourceFactory
{
    public static IDropSource Create(AgentOptions options, out string note)
    {
        switch (options.Source)
        {
            case SourceKind.Tracepoint:
                return OpenTracepoint(options, "using the skb:kfree_skb tracepoint (asked for)", out note);
            case SourceKind.NetDm:
                return OpenNetDm(options, "asked for", out note);
            case SourceKind.Bpf:
                note = $"using the eBPF program on kfree_skb{(options.ConsumeSkb ? " and consume_skb" : "")} (asked for){StacksNote(options)}";
                return BpfSource.Open(flowsPerSecond: options.FlowsPerSecond, consume: options.ConsumeSkb, stacks: options.Stacks);
            default:
                if (options.ConsumeSkb)
                {
                    // NET_DM cannot count normal frees: eBPF, else the tracepoint.
                    try
                    {
                        var bpf = BpfSource.Open(flowsPerSecond: options.FlowsPerSecond, consume: true, stacks: options.Stacks);
                        note = $"using the eBPF programs on kfree_skb and consume_skb (--consume; the kernel has BTF){StacksNote(options)}";
                        return bpf;
                    }
                    catch (CaptureUnavailableException e)
                    {
                        return OpenTracepoint(options, $"using the skb:kfree_skb tracepoint (--consume needs it or eBPF; eBPF is not available: {e.Message}){NoStacks(options)}", out note);
                    }
                }
                // Packet mode and its pcapng exist only with NET_DM: asking for them is asking for NET_DM.
                if (options.NetDm.Mode == NetDmMode.Packet || options.NetDm.PcapPath is not null)
                    return OpenNetDm(options, $"packet mode asked for{NoStacks(options)}", out note);
                string bpfMissing;
                try
                {
                    var bpf = BpfSource.Open(flowsPerSecond: options.FlowsPerSecond, stacks: options.Stacks);
                    note = $"using the eBPF program on kfree_skb (the kernel has BTF){StacksNote(options)}";
                    return bpf;
                }
                catch (CaptureUnavailableException e)
                {
                    bpfMissing = $"eBPF is not available: {e.Message}{NoStacks(options)}";
                }
                try
                {
                    var netDm = OpenNetDm(options, "the kernel has it", out note);
                    note += $"; {bpfMissing}";
                    return netDm;
                }
                catch (CaptureUnavailableException e)
                {
                    return OpenTracepoint(options, $"using the skb:kfree_skb tracepoint, {bpfMissing}; NET_DM is not available: {e.Message}", out note);
                }
        }
    }

    private static string StacksNote(AgentOptions options) => options.Stacks ? "; counting the kernel stacks to each site (--stacks)" : "";

    // Auto fell back from bpf: --stacks was asked for and cannot be had, which the start line says.
    private static string NoStacks(AgentOptions options) => options.Stacks ? "; no drop paths: --stacks needs the bpf source" : "";

    private static TracepointSource OpenTracepoint(AgentOptions options, string why, out string note)
    {
        var source = TracepointSource.Open(options.RingKb, options.ConsumeSkb, (int)options.BatchInterval.TotalMilliseconds);
        note = $"{why}; {source.StartNote}";
        return source;
    }

    private static NetDmSource OpenNetDm(AgentOptions options, string why, out string note)
    {
        var source = NetDmSource.Open(options.NetDm);
        note = $"using NET_DM in {source.Mode.ToString().ToLowerInvariant()} mode ({why})" + (source.StartNote is null ? "" : $"; {source.StartNote}");
        return source;
    }
}
