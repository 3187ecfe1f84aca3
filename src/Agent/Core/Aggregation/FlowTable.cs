using System.Net;
using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Aggregation;

/// <summary>
/// Dropped flows per (site, namespace) between two batches: the sampled packets' 5-tuples as the capture thread
/// reads them from the kernel, and the kernel's own count of drops sampled and not. <see cref="Flush"/> (batching
/// thread) hands out each site's top flows and the counts. Bounded: at most <see cref="MaxFlowsPerSite"/> distinct
/// flows a site per batch are told apart; samples of flows past that still count in the site's sampled drops.
/// </summary>
public sealed class FlowTable
{
    public const int MaxFlowsPerSite = 4096;

    private readonly Lock _gate = new();
    private Dictionary<(ulong Pc, uint Netns), Site> _sites = [];

    private sealed class Site
    {
        public long Sampled, NotSampled;
        public readonly Dictionary<FlowKey, long> Flows = [];
    }

    private readonly record struct FlowKey(byte IpProtocol, IPAddress Source, ushort SourcePort, IPAddress Destination, ushort DestinationPort, uint Ifindex);

    /// <summary>One sampled drop's headers (a packet that is not IP has no flow and only counts as sampled, by the kernel).</summary>
    public void Add(ulong pc, uint netns, byte ipProtocol, IPAddress? source, ushort sourcePort, IPAddress? destination, ushort destinationPort, uint ifindex)
    {
        if (source is null || destination is null) return;
        lock (_gate)
        {
            var flows = SiteOf(pc, netns).Flows;
            var key = new FlowKey(ipProtocol, source, sourcePort, destination, destinationPort, ifindex);
            if (flows.TryGetValue(key, out var count)) flows[key] = count + 1;
            else if (flows.Count < MaxFlowsPerSite) flows[key] = 1;
        }
    }

    /// <summary>The kernel's count, since the last read, of drops at a site that were sampled and that were not.</summary>
    public void AddSampling(ulong pc, uint netns, long drops, long sampled)
    {
        if (drops == 0 && sampled == 0) return;
        lock (_gate)
        {
            var site = SiteOf(pc, netns);
            site.Sampled += sampled;
            site.NotSampled += drops - sampled;
        }
    }

    /// <summary>Everything since the last flush, the top flows of each site most first; sites ordered by drops.</summary>
    public IReadOnlyList<FlowSite> Flush(Func<ulong, (string Site, string Function)> siteOf, Func<uint, string?>? namespaceName)
    {
        Dictionary<(ulong Pc, uint Netns), Site> taken;
        lock (_gate)
        {
            if (_sites.Count == 0) return [];
            (taken, _sites) = (_sites, []);
        }
        var sites = new List<FlowSite>(taken.Count);
        foreach (var ((pc, netns), site) in taken)
        {
            var top = site.Flows
                .OrderByDescending(f => f.Value).ThenBy(f => f.Key.Source.ToString(), StringComparer.Ordinal).ThenBy(f => f.Key.SourcePort)
                .Take(FlowSite.MaxTop)
                .Select(f => new DroppedFlow(f.Key.IpProtocol, f.Key.Source.ToString(), f.Key.SourcePort, f.Key.Destination.ToString(), f.Key.DestinationPort,
                    f.Value, (int)f.Key.Ifindex))
                .ToList();
            var (name, function) = siteOf(pc);
            sites.Add(new FlowSite(name, function, site.Sampled, site.NotSampled, top, netns, netns == 0 ? null : namespaceName?.Invoke(netns)));
        }
        sites.Sort(static (a, b) => (b.Sampled + b.NotSampled).CompareTo(a.Sampled + a.NotSampled));
        return sites;
    }

    private Site SiteOf(ulong pc, uint netns)
    {
        if (!_sites.TryGetValue((pc, netns), out var site)) _sites[(pc, netns)] = site = new Site();
        return site;
    }
}
