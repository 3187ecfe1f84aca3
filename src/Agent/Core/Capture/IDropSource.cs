using DropBoard.Agent.Aggregation;
using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Capture;

/// <summary>A kernel drop feed (the skb:kfree_skb tracepoint, NET_DM). One per agent.</summary>
public interface IDropSource : IDisposable
{
    /// <summary>"bpf", "netdm" or "tracepoint": what the agent reports as its source.</summary>
    string Name { get; }

    /// <summary>Records the kernel could not hand over (perf ring overflow, NET_DM queue drops), cumulative.</summary>
    long LostRecords { get; }

    /// <summary>The setting to raise when records are lost, and its value now; null when the source has none.</summary>
    string? LostRecordsFix => null;

    /// <summary>Records or messages that could not be decoded and were skipped, cumulative.</summary>
    long CorruptRecords { get; }

    /// <summary>Whether its drops carry the network namespace they happened in (<see cref="DropBucket.Netns"/>): then counters are read per namespace.</summary>
    bool KnowsNamespaces => false;

    /// <summary>What was wrong with the last of them (or with stopping the source).</summary>
    string? LastError { get; }

    /// <summary>
    /// Now, in the clock the source stamps drops with (Unix nanoseconds), so that a counter sample taken now can be
    /// placed among the drops exactly. The wall clock, unless the source's timestamps come from another clock.
    /// </summary>
    long NowUnixNs() => (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100;

    /// <summary>Feeds every drop into the aggregator until cancelled. Blocks: call it on a thread of its own.</summary>
    void Run(DropAggregator aggregator, IDropSampleSink samples, CancellationToken cancellationToken);

    /// <summary>
    /// Takes a counter sample among the drops: runs <paramref name="readCounters"/>, cuts the aggregator's buckets at
    /// the moment it stands for (<see cref="DropAggregator.CutAt"/>) and returns that moment (in
    /// <see cref="NowUnixNs"/>'s clock), so that the drops before it and the counter rises up to it cover the same span.
    /// This default cuts just before the read: a drop in the namespace <paramref name="netnsInode"/> during the read
    /// itself (microseconds) may land on the other side. A source that can tell whether drops came during the read
    /// reads again until none did, and may call <paramref name="readCounters"/> more than once: the last read counts.
    /// </summary>
    long SampleCounters(DropAggregator aggregator, Action readCounters, ulong netnsInode)
    {
        var cut = NowUnixNs();
        aggregator.CutAt(cut);
        readCounters();
        return cut;
    }
}

/// <summary>A source that can also count normal frees (skb:consume_skb) per site, apart from drops (<c>--consume</c>).</summary>
public interface IFreeCounting
{
    /// <summary>Whether it was opened to count them.</summary>
    bool CapturesFrees { get; }

    /// <summary>Where they are counted; set before <see cref="IDropSource.Run"/> when <see cref="CapturesFrees"/>.</summary>
    DropAggregator? Frees { get; set; }
}

/// <summary>Receives per-packet detail where a source has it (NET_DM packet mode).</summary>
public interface IDropSampleSink
{
    /// <summary>Whether the next sample is wanted (samples are rate-capped); ask before building one.</summary>
    bool Admit();

    void OnSample(DropSample sample);
}

/// <summary>The agent cannot capture here; <see cref="Fix"/> says what the operator can do about it.</summary>
public sealed class CaptureUnavailableException(string message, string fix) : Exception(message)
{
    public string Fix { get; } = fix;

    public override string ToString() => $"{Message} ({Fix})";
}
