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
                note = "using the skb:kfree_skb tracepoint (asked for)";
                return OpenTracepoint(options);
            case SourceKind.NetDm:
                return OpenNetDm(options, "asked for", out note);
            default:
                if (options.ConsumeSkb)
                {
                    note = "using the skb:kfree_skb tracepoint (--consume needs it)";
                    return OpenTracepoint(options);
                }
                // Packet mode and its pcapng exist only with NET_DM: asking for them is asking for NET_DM.
                if (options.NetDm.Mode == NetDmMode.Packet || options.NetDm.PcapPath is not null)
                    return OpenNetDm(options, "packet mode asked for", out note);
                try
                {
                    return OpenNetDm(options, "the kernel has it", out note);
                }
                catch (CaptureUnavailableException e)
                {
                    note = $"using the skb:kfree_skb tracepoint, NET_DM is not available: {e.Message}";
                    return OpenTracepoint(options);
                }
        }
    }

    private static TracepointSource OpenTracepoint(AgentOptions options) =>
        TracepointSource.Open(options.RingPages, options.ConsumeSkb, (int)options.BatchInterval.TotalMilliseconds);

    private static NetDmSource OpenNetDm(AgentOptions options, string why, out string note)
    {
        var source = NetDmSource.Open(options.NetDm);
        note = $"using NET_DM in {source.Mode.ToString().ToLowerInvariant()} mode ({why})" + (source.StartNote is null ? "" : $"; {source.StartNote}");
        return source;
    }
}
