using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Live;

/// <summary>
/// The kernel stacks each host's agent counted drops by (bpf source with --stacks), over the live window: per minute
/// and per (site, namespace), each path's drops. Bounded: at most <see cref="MaxSitesPerMinute"/> sites a minute and
/// <see cref="MaxPathsPerSite"/> paths a site are told apart; the drops of the rest count as the site's other drops,
/// so a site's paths and other drops always make its drops.
/// </summary>
public sealed class LivePaths(TimeProvider clock) : IBatchListener
{
    public const int MaxSitesPerMinute = 1000, MaxPathsPerSite = 50;

    private readonly Lock _gate = new();
    private readonly HostMinutes<Minute> _hosts = new(() => new Minute());

    private sealed class Minute
    {
        public readonly Dictionary<(string Site, string Function, uint Netns), SitePaths> Sites = [];
    }

    private sealed class SitePaths
    {
        public long Other;
        public string? NetnsName;
        public readonly Dictionary<string, StackPath> Paths = new(StringComparer.Ordinal);
    }

    public ValueTask OnBatchAsync(AgentHello host, AgentBatch batch, CancellationToken cancellationToken)
    {
        if (batch.Paths is not { Count: > 0 } paths) return default;
        var number = batch.SentAtMs / 60_000;
        lock (_gate)
        {
            var minute = _hosts.At(host.HostId, number);
            foreach (var p in paths)
                if (SiteOf(minute, p.Site, p.Function, p.Netns, p.NetnsName) is { } site) Add(site, p.Other, p.Top);
        }
        return default;
    }

    /// <summary>A host's paths over a window: the sites most dropped first (at most <paramref name="sites"/>), each with its top paths.</summary>
    public IReadOnlyList<PathSite> Top(string hostId, TimeSpan window, uint? netns = null, int sites = 10)
    {
        var from = (clock.GetUtcNow() - window).ToUnixTimeMilliseconds() / 60_000;
        var merged = new Minute();
        lock (_gate)
        {
            if (!_hosts.Knows(hostId)) return [];
            foreach (var minute in _hosts.Since(hostId, from))
                foreach (var ((site, function, ns), paths) in minute.Sites)
                    if ((netns is null || ns == netns) && SiteOf(merged, site, function, ns, paths.NetnsName) is { } into)
                        Add(into, paths.Other, paths.Paths.Values);
        }
        return [.. merged.Sites.Select(s =>
            {
                var ordered = s.Value.Paths.Values.OrderByDescending(p => p.Drops).ThenBy(p => p.Missing, StringComparer.Ordinal)
                    .ThenBy(p => string.Join('\n', p.Frames), StringComparer.Ordinal).ToList();
                var drops = s.Value.Other + ordered.Sum(p => p.Drops);
                var top = ordered.Take(PathSite.MaxTop).ToList();
                return new PathSite(s.Key.Site, s.Key.Function, drops, top, drops - top.Sum(p => p.Drops), s.Key.Netns, s.Value.NetnsName);
            })
            .OrderByDescending(s => s.Drops).ThenBy(s => s.Site, StringComparer.Ordinal).Take(sites)];
    }

    private static SitePaths? SiteOf(Minute minute, string site, string function, uint netns, string? netnsName)
    {
        if (!minute.Sites.TryGetValue((site, function, netns), out var paths))
        {
            if (minute.Sites.Count >= MaxSitesPerMinute) return null;
            minute.Sites[(site, function, netns)] = paths = new SitePaths();
        }
        paths.NetnsName = netnsName ?? paths.NetnsName;
        return paths;
    }

    private static void Add(SitePaths site, long other, IEnumerable<StackPath> top)
    {
        site.Other += other;
        foreach (var p in top)
        {
            var key = p.Missing ?? string.Join('\n', p.Frames);
            if (site.Paths.TryGetValue(key, out var known)) site.Paths[key] = known with { Drops = known.Drops + p.Drops };
            else if (site.Paths.Count < MaxPathsPerSite) site.Paths[key] = p;
            else site.Other += p.Drops;
        }
    }
}
