using System.Runtime.InteropServices;
using DropBoard.Agent.Symbols;
using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Aggregation;

/// <summary>
/// Counts drops per (program counter, reason) in fixed time buckets. The capture thread calls
/// <see cref="Add"/> for every drop with no allocation and no lock: counts gather in a private table that
/// <see cref="Commit"/> publishes once per ring drain. <see cref="Flush"/>, on the batching thread,
/// symbolizes each distinct pc once and hands out the buckets gathered so far. A bucket may come out in
/// parts over several flushes (late records); consumers add parts with the same site, reason and start.
/// </summary>
public sealed class DropAggregator
{
    private Symbolizer _symbolizer;
    private readonly long _bucketNs;
    private readonly Lock _gate = new();
    private readonly Dictionary<(string Site, string Function, int Reason, long StartMs), long> _named = [];
    private Dictionary<BucketKey, long> _pending = [];
    private Dictionary<BucketKey, long> _published = [];
    private readonly Dictionary<ulong, (string Site, string Function)> _sites = [];

    // The last counter sample (Unix ns): the bucket holding it is split there (see CutAt).
    private long _cutNs = long.MinValue;

    // The run being counted: drops come in bursts at one site, so most Adds only bump this.
    private BucketKey _runKey;
    private long _runCount;

    public DropAggregator(Symbolizer symbolizer, int bucketMs = 10)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(bucketMs, 1);
        _symbolizer = symbolizer;
        BucketMs = bucketMs;
        _bucketNs = bucketMs * 1_000_000L;
    }

    public int BucketMs { get; }

    public DropReasonTable Reasons { get; } = new();

    /// <summary>Names a network namespace by its inode (<c>ip netns</c> name, container id), null when it has none; called by <see cref="Flush"/>.</summary>
    public Func<uint, string?>? NamespaceName { get; set; }

    /// <summary>Called on the capture thread when a commit published drops: the batching side need not poll.</summary>
    public Action? Committed { get; set; }

    /// <summary>One or more drops at <paramref name="pc"/>. Single producer: the source's capture thread.</summary>
    /// <param name="protocol">EtherType of the dropped packet (<c>0x0800</c> IPv4), 0 when the source does not say.</param>
    /// <param name="netns">Inode of the network namespace it was dropped in, 0 when the source does not say.</param>
    public void Add(ulong pc, int reasonId, long timestampUnixNs, long count = 1, ushort protocol = 0, uint netns = 0)
    {
        var key = new BucketKey(pc, reasonId, protocol, netns, StartMs(timestampUnixNs));
        if (key.Equals(_runKey))
        {
            _runCount += count;
            return;
        }
        if (_runCount != 0)
            CollectionsMarshal.GetValueRefOrAddDefault(_pending, _runKey, out _) += _runCount;
        _runKey = key;
        _runCount = count;
    }

    /// <summary>Drops at a site that has no program counter (hardware traps).</summary>
    public void AddNamedSite(string site, string function, int reasonId, long timestampUnixNs, long count)
    {
        lock (_gate)
            CollectionsMarshal.GetValueRefOrAddDefault(_named, (site, function, reasonId, StartMs(timestampUnixNs)), out _) += count;
        Committed?.Invoke();
    }

    /// <summary>
    /// A counter sample is taken at <paramref name="unixNs"/> (in the drops' clock): from here on, drops in the
    /// bucket that holds it but after it go to a part of that bucket starting at the sample's millisecond, rounded
    /// up, which is what the sample is stamped with. So the drops before a sample and the counter rises up to it
    /// can be compared over the same span, to the drop. Called by the batching thread before it reads the counters.
    /// </summary>
    public void CutAt(long unixNs) => Volatile.Write(ref _cutNs, unixNs);

    /// <summary>The millisecond a sample taken at <paramref name="unixNs"/> is stamped with.</summary>
    public static long SampleMs(long unixNs) => (unixNs + 999_999) / 1_000_000;

    private long StartMs(long timestampUnixNs)
    {
        var bucket = timestampUnixNs / _bucketNs;
        var cut = Volatile.Read(ref _cutNs);
        return timestampUnixNs >= cut && bucket == cut / _bucketNs ? SampleMs(cut) : bucket * BucketMs;
    }

    /// <summary>Publishes what the capture thread counted since its last commit. Call from the capture thread.</summary>
    public void Commit()
    {
        if (_runCount != 0)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(_pending, _runKey, out _) += _runCount;
            _runCount = 0;
            _runKey = default;
        }
        if (_pending.Count == 0) return;
        lock (_gate)
        {
            if (_published.Count == 0)
                // Swap instead of copying: the capture thread keeps the emptied table.
                (_published, _pending) = (_pending, _published);
            else
                foreach (var (key, value) in _pending)
                    CollectionsMarshal.GetValueRefOrAddDefault(_published, key, out _) += value;
        }
        _pending.Clear();
        Committed?.Invoke();
    }

    /// <summary>Everything committed so far, as buckets with symbolized sites, oldest first.</summary>
    public IReadOnlyList<DropBucket> Flush()
    {
        List<DropBucket> buckets;
        lock (_gate)
        {
            buckets = new List<DropBucket>(_published.Count + _named.Count);
            foreach (var (key, count) in _published)
            {
                var (site, function) = SiteOf(key.Pc);
                var name = key.Netns == 0 ? null : NamespaceName?.Invoke(key.Netns);
                buckets.Add(new DropBucket(site, function, Reasons.NameOf(key.Reason), key.StartMs, count, key.Protocol, key.Netns, name));
            }
            foreach (var (key, count) in _named)
                buckets.Add(new DropBucket(key.Site, key.Function, Reasons.NameOf(key.Reason), key.StartMs, count));
            _published.Clear();
            _named.Clear();
        }
        buckets.Sort(static (a, b) => a.StartMs.CompareTo(b.StartMs));
        return buckets;
    }

    /// <summary>The flows gathered in <paramref name="flows"/> since the last call, their sites named as the drops' are.</summary>
    public IReadOnlyList<FlowSite> Flush(FlowTable flows)
    {
        lock (_gate) return flows.Flush(SiteOf, NamespaceName);
    }

    /// <summary>The paths gathered in <paramref name="paths"/> since the last call, sites and frames named as the drops' sites are.</summary>
    public IReadOnlyList<PathSite> Flush(PathTable paths)
    {
        lock (_gate) return paths.Flush(SiteOf, NamespaceName);
    }

    /// <summary>Takes a reloaded symbol table (modules came or went): sites are resolved afresh from here on.</summary>
    public void UseSymbolizer(Symbolizer symbolizer)
    {
        lock (_gate)
        {
            if (ReferenceEquals(symbolizer, _symbolizer)) return;
            _symbolizer = symbolizer;
            _sites.Clear();
        }
    }

    private (string Site, string Function) SiteOf(ulong pc)
    {
        if (!_sites.TryGetValue(pc, out var site))
        {
            var resolved = _symbolizer.Resolve(pc);
            _sites[pc] = site = (resolved.ToString(), resolved.Function);
        }
        return site;
    }

    private readonly record struct BucketKey(ulong Pc, int Reason, ushort Protocol, uint Netns, long StartMs);
}
