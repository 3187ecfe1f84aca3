using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Live;

/// <summary>
/// The dropped flows each host's agent sampled (bpf source), over the live window: per minute and per (site,
/// namespace), the drops sampled and not sampled and each flow's sampled drops. Bounded: at most
/// <see cref="MaxSitesPerMinute"/> sites a minute and <see cref="MaxFlowsPerSite"/> flows a site are told apart;
/// the sampled and not-sampled counts of a site past the bound still add to the host's totals.
/// </summary>
public sealed class LiveFlows(TimeProvider clock) : IBatchListener
{
    public const int MaxSitesPerMinute = 1000, MaxFlowsPerSite = 100;

    private readonly Lock _gate = new();
    private readonly HostMinutes<Minute> _hosts = new(() => new Minute());

    private sealed class Minute
    {
        public readonly Dictionary<(string Site, string Function, uint Netns), SiteFlows> Sites = [];
        public long SampledElsewhere, NotSampledElsewhere;
    }

    private sealed class SiteFlows
    {
        public long Sampled, NotSampled;
        public string? NetnsName;
        public readonly Dictionary<(byte, string, ushort, string, ushort, int), long> Flows = [];
    }

    /// <summary>A host's flows over a window: sites most dropped first, each with its top flows, and the drops of sites past the bound.</summary>
    public sealed record Window(IReadOnlyList<FlowSite> Sites, long SampledElsewhere, long NotSampledElsewhere)
    {
        public static readonly Window Empty = new([], 0, 0);
        public long Sampled => Sites.Sum(s => s.Sampled) + SampledElsewhere;
        public long NotSampled => Sites.Sum(s => s.NotSampled) + NotSampledElsewhere;
    }

    public ValueTask OnBatchAsync(AgentHello host, AgentBatch batch, CancellationToken cancellationToken)
    {
        if (batch.Flows is not { Count: > 0 } flows) return default;
        var number = batch.SentAtMs / 60_000;
        lock (_gate)
        {
            var minute = _hosts.At(host.HostId, number);
            foreach (var f in flows)
                Add(minute, f.Site, f.Function, f.Netns, f.NetnsName, f.Sampled, f.NotSampled, f.Top);
        }
        return default;
    }

    public Window Top(string hostId, TimeSpan window, uint? netns = null, int sites = 10)
    {
        var from = (clock.GetUtcNow() - window).ToUnixTimeMilliseconds() / 60_000;
        var merged = new Minute();
        lock (_gate)
        {
            if (!_hosts.Knows(hostId)) return Window.Empty;
            foreach (var minute in _hosts.Since(hostId, from))
            {
                foreach (var ((site, function, ns), f) in minute.Sites)
                    if (netns is null || ns == netns)
                        Add(merged, site, function, ns, f.NetnsName, f.Sampled, f.NotSampled,
                            f.Flows.Select(kv => new DroppedFlow(kv.Key.Item1, kv.Key.Item2, kv.Key.Item3, kv.Key.Item4, kv.Key.Item5, kv.Value, kv.Key.Item6)));
                if (netns is null)
                {
                    merged.SampledElsewhere += minute.SampledElsewhere;
                    merged.NotSampledElsewhere += minute.NotSampledElsewhere;
                }
            }
        }
        var ordered = merged.Sites.OrderByDescending(s => s.Value.Sampled + s.Value.NotSampled).ThenBy(s => s.Key.Site, StringComparer.Ordinal).ToList();
        var shown = ordered.Take(sites).Select(s => new FlowSite(s.Key.Site, s.Key.Function, s.Value.Sampled, s.Value.NotSampled,
            [.. s.Value.Flows.OrderByDescending(f => f.Value).ThenBy(f => f.Key.Item2, StringComparer.Ordinal).ThenBy(f => f.Key.Item3).Take(FlowSite.MaxTop)
                .Select(f => new DroppedFlow(f.Key.Item1, f.Key.Item2, f.Key.Item3, f.Key.Item4, f.Key.Item5, f.Value, f.Key.Item6))],
            s.Key.Netns, s.Value.NetnsName)).ToList();
        var rest = ordered.Skip(sites).ToList();
        return new Window(shown, merged.SampledElsewhere + rest.Sum(s => s.Value.Sampled), merged.NotSampledElsewhere + rest.Sum(s => s.Value.NotSampled));
    }

    private static void Add(Minute minute, string site, string function, uint netns, string? netnsName, long sampled, long notSampled, IEnumerable<DroppedFlow> top)
    {
        if (!minute.Sites.TryGetValue((site, function, netns), out var flows))
        {
            if (minute.Sites.Count >= MaxSitesPerMinute)
            {
                minute.SampledElsewhere += sampled;
                minute.NotSampledElsewhere += notSampled;
                return;
            }
            minute.Sites[(site, function, netns)] = flows = new SiteFlows();
        }
        flows.Sampled += sampled;
        flows.NotSampled += notSampled;
        flows.NetnsName = netnsName ?? flows.NetnsName;
        foreach (var f in top)
        {
            var key = (f.IpProtocol, f.Source, f.SourcePort, f.Destination, f.DestinationPort, f.Ifindex);
            if (flows.Flows.TryGetValue(key, out var count)) flows.Flows[key] = count + f.Count;
            else if (flows.Flows.Count < MaxFlowsPerSite) flows.Flows[key] = f.Count;
        }
    }
}
