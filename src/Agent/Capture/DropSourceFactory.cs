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
                return TracepointSource.Open(options.RingPages, options.ConsumeSkb);
            case SourceKind.NetDm:
                throw new CaptureUnavailableException(
                    "this agent has no NET_DM source yet",
                    "use --source tracepoint (the skb:kfree_skb tracepoint sees the same drops)");
            default:
                note = "using the skb:kfree_skb tracepoint (this agent has no NET_DM source yet)";
                return TracepointSource.Open(options.RingPages, options.ConsumeSkb);
        }
    }
}
