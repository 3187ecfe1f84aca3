using DropBoard.Agent.Capture.NetDm;
using DropBoard.Agent.Capture.Tracepoint;

namespace DropBoard.Agent.Pipeline;

public enum SourceKind { Auto, Tracepoint, NetDm, Bpf }

/// <summary>How the agent captures. Defaults are what a newcomer gets with no flags.</summary>
public sealed record AgentOptions
{
    public SourceKind Source { get; init; } = SourceKind.Auto;
    public int BucketMs { get; init; } = 10;
    public TimeSpan BatchInterval { get; init; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan CounterInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Raw per-drop samples sent per second at most, so a drop storm cannot drown the uplink.</summary>
    public int MaxSamplesPerSecond { get; init; } = 100;
    /// <summary>Read counters of this network namespace (<c>ip netns</c> name or a path) instead of the agent's own.</summary>
    public string? NetNamespace { get; init; }
    /// <summary>KiB per CPU for the tracepoint's perf rings (a power of two).</summary>
    public int RingKb { get; init; } = TracepointSource.DefaultRingKb;
    public const int DefaultFlowsPerSecond = 100;
    /// <summary>bpf source: dropped packets' headers sampled a second at most, for the top dropped flows per site; 0 for none.</summary>
    public int FlowsPerSecond { get; init; } = DefaultFlowsPerSecond;
    /// <summary>bpf source: also count each site's drops per kernel stack, to show the paths that led to it.</summary>
    public bool Stacks { get; init; }
    /// <summary>Also count normal frees (skb:consume_skb) per site, to tell drops from frees; costly on a busy host.</summary>
    public bool ConsumeSkb { get; init; }
    /// <summary>How the NET_DM source runs (summary or packet mode, pcapng file), when it is the one used.</summary>
    public NetDmOptions NetDm { get; init; } = new();
}
