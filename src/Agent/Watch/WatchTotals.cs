using System.Text.Json.Serialization;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Paths;

namespace DropBoard.Agent.Watch;

/// <summary>Drops per (site, reason) and counter deltas added up over an interval or a whole run.</summary>
public sealed class WatchTotals
{
    private readonly Dictionary<(string Site, string Function, string? Reason, uint Netns), long> _drops = [];
    private readonly Dictionary<uint, string> _netnsNames = [];
    private readonly Dictionary<(string Name, uint Netns), long> _counters = [];
    private readonly Dictionary<(string Site, string Function), long> _frees = [];
    private readonly Dictionary<string, string> _texts = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Site, string Function, uint Netns), FlowCounts> _flows = [];
    private readonly Dictionary<(string Site, string Function, uint Netns), PathTally> _paths = [];

    // A site's paths over the run told apart, at most this many.
    private const int MaxPathsPerSite = 1000;

    // A site's flows over the run: the sum of each batch's top flows, at most MaxFlowsPerSite told apart.
    private sealed class FlowCounts
    {
        public const int MaxFlowsPerSite = 1000;
        public long Sampled, NotSampled;
        public readonly Dictionary<(byte, string, ushort, string, ushort, int), long> Flows = [];

        public void Add(long sampled, long notSampled, IEnumerable<DroppedFlow> top)
        {
            Sampled += sampled;
            NotSampled += notSampled;
            foreach (var f in top)
            {
                var key = (f.IpProtocol, f.Source, f.SourcePort, f.Destination, f.DestinationPort, f.Ifindex);
                if (Flows.TryGetValue(key, out var count)) Flows[key] = count + f.Count;
                else if (Flows.Count < MaxFlowsPerSite) Flows[key] = f.Count;
            }
        }
    }

    // The run's buckets and deltas as they came, for the explanation at exit; bounded so a storm cannot exhaust memory.
    private const int MaxKept = 1_000_000;
    private readonly List<DropBucket> _buckets = [];
    private readonly List<CounterDelta> _deltas = [];

    public long LostRecords { get; private set; }

    public IReadOnlyList<DropBucket> Buckets => _buckets;

    public IReadOnlyList<CounterDelta> Deltas => _deltas;

    public void Add(AgentBatch batch)
    {
        if (_buckets.Count < MaxKept) _buckets.AddRange(batch.Drops);
        if (_deltas.Count < MaxKept) _deltas.AddRange(batch.Counters);
        foreach (var d in batch.Drops)
        {
            _drops[(d.Site, d.Function, d.Reason, d.Netns)] = _drops.GetValueOrDefault((d.Site, d.Function, d.Reason, d.Netns)) + d.Count;
            if (d.NetnsName is not null) _netnsNames[d.Netns] = d.NetnsName;
        }
        foreach (var c in batch.Counters)
            _counters[(c.Name, c.Netns)] = _counters.GetValueOrDefault((c.Name, c.Netns)) + c.Delta;
        foreach (var (name, text) in batch.CounterTexts ?? new Dictionary<string, string>()) _texts[name] = text;
        foreach (var f in batch.Frees ?? [])
            _frees[(f.Site, f.Function)] = _frees.GetValueOrDefault((f.Site, f.Function)) + f.Count;
        foreach (var f in batch.Flows ?? [])
        {
            FlowsAt(f.Site, f.Function, f.Netns).Add(f.Sampled, f.NotSampled, f.Top);
            if (f.NetnsName is not null) _netnsNames[f.Netns] = f.NetnsName;
        }
        foreach (var p in batch.Paths ?? [])
        {
            PathsAt(p.Site, p.Function, p.Netns).Add(p.Other, p.Top);
            if (p.NetnsName is not null) _netnsNames[p.Netns] = p.NetnsName;
        }
        LostRecords += batch.LostRecords;
    }

    public void Add(WatchTotals other)
    {
        if (_buckets.Count < MaxKept) _buckets.AddRange(other._buckets);
        if (_deltas.Count < MaxKept) _deltas.AddRange(other._deltas);
        foreach (var (key, count) in other._drops) _drops[key] = _drops.GetValueOrDefault(key) + count;
        foreach (var (name, delta) in other._counters) _counters[name] = _counters.GetValueOrDefault(name) + delta;
        foreach (var (netns, name) in other._netnsNames) _netnsNames[netns] = name;
        foreach (var (key, count) in other._frees) _frees[key] = _frees.GetValueOrDefault(key) + count;
        foreach (var (name, text) in other._texts) _texts[name] = text;
        foreach (var (key, flows) in other._flows)
            FlowsAt(key.Site, key.Function, key.Netns).Add(flows.Sampled, flows.NotSampled, Top(flows, int.MaxValue));
        foreach (var (key, paths) in other._paths)
            PathsAt(key.Site, key.Function, key.Netns).Add(paths.Other, paths.Paths);
        LostRecords += other.LostRecords;
    }

    public bool IsEmpty => _drops.Count == 0 && _counters.Count == 0 && _frees.Count == 0 && _flows.Count == 0 && _paths.Count == 0 && LostRecords == 0;

    /// <summary>Dropped flows per site (bpf source sampling them), most drops first, each with its top flows.</summary>
    public IEnumerable<FlowSite> Flows =>
        _flows.Select(kv => new FlowSite(kv.Key.Site, kv.Key.Function, kv.Value.Sampled, kv.Value.NotSampled, Top(kv.Value, FlowSite.MaxTop), kv.Key.Netns, NameOf(kv.Key.Netns)))
              .OrderByDescending(f => f.Sampled + f.NotSampled).ThenBy(f => f.Site, StringComparer.Ordinal).ThenBy(f => f.Netns);

    /// <summary>The kernel stacks that led to each site's drops (bpf source with --stacks), most drops first, each with its top paths.</summary>
    public IEnumerable<PathSite> Paths =>
        _paths.Select(kv => kv.Value.ToSite(kv.Key.Site, kv.Key.Function, kv.Key.Netns, NameOf(kv.Key.Netns)))
            .OrderByDescending(p => p.Drops).ThenBy(p => p.Site, StringComparer.Ordinal).ThenBy(p => p.Netns);

    private PathTally PathsAt(string site, string function, uint netns)
    {
        if (!_paths.TryGetValue((site, function, netns), out var counts)) _paths[(site, function, netns)] = counts = new PathTally(MaxPathsPerSite);
        return counts;
    }

    private FlowCounts FlowsAt(string site, string function, uint netns)
    {
        if (!_flows.TryGetValue((site, function, netns), out var counts)) _flows[(site, function, netns)] = counts = new FlowCounts();
        return counts;
    }

    private static List<DroppedFlow> Top(FlowCounts counts, int take) =>
        [.. counts.Flows.OrderByDescending(f => f.Value).ThenBy(f => f.Key.Item2, StringComparer.Ordinal).ThenBy(f => f.Key.Item3).Take(take)
            .Select(f => new DroppedFlow(f.Key.Item1, f.Key.Item2, f.Key.Item3, f.Key.Item4, f.Key.Item5, f.Value, f.Key.Item6))];

    /// <summary>Most drops first, then by site, so the interesting line is on top and the order is stable.</summary>
    public IEnumerable<DropTotal> Drops =>
        _drops.Select(kv => new DropTotal(kv.Key.Function, kv.Key.Site, kv.Key.Reason, kv.Value, kv.Key.Netns, NameOf(kv.Key.Netns)))
              .OrderByDescending(d => d.Count).ThenBy(d => d.Site, StringComparer.Ordinal).ThenBy(d => d.Reason, StringComparer.Ordinal).ThenBy(d => d.Netns);

    /// <summary>A namespace's name as its drops last carried it (the ip netns name or container id), null when none.</summary>
    public string? NameOf(uint netns) => _netnsNames.GetValueOrDefault(netns);

    /// <summary>Normal frees (skb:consume_skb) per site, most first; empty unless the agent counts them.</summary>
    public IEnumerable<FreeTotal> Frees =>
        _frees.Select(kv => new FreeTotal(kv.Key.Function, kv.Key.Site, kv.Value))
              .OrderByDescending(f => f.Count).ThenBy(f => f.Site, StringComparer.Ordinal);

    public IEnumerable<CounterTotal> Counters =>
        _counters.Select(kv => new CounterTotal(kv.Key.Name, kv.Value, _texts.GetValueOrDefault(kv.Key.Name), kv.Key.Netns, NameOf(kv.Key.Netns)))
            .OrderBy(c => c.Name, StringComparer.Ordinal).ThenBy(c => c.Netns);
}

/// <param name="Netns">Inode of the network namespace of these drops (bpf source), 0 when the source does not say.</param>
/// <param name="NetnsName">Its <c>ip netns</c> name or container id, when known.</param>
public sealed record DropTotal(string Function, string Site, string? Reason, long Count,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NetnsName = null);

/// <param name="Text">What the counter counts, when the agent knows (a netfilter rule's text).</param>
/// <param name="Netns">The network namespace it was read in, when the agent reads counters per namespace (bpf source).</param>
public sealed record CounterTotal(string Name, long Delta, [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Text = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NetnsName = null);

public sealed record FreeTotal(string Function, string Site, long Count);
