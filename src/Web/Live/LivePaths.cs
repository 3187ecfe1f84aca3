using DropBoard.Shared.Contracts;
using DropBoard.Shared.Paths;

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
        public string? NetnsName;
        public readonly PathTally Tally = new(MaxPathsPerSite);
    }

    public ValueTask OnBatchAsync(AgentHello host, AgentBatch batch, CancellationToken cancellationToken)
    {
        if (batch.Paths is not { Count: > 0 } paths) return default;
        var number = batch.SentAtMs / 60_000;
        lock (_gate)
        {
            var minute = _hosts.At(host.HostId, number);
            foreach (var p in paths)
                if (SiteOf(minute, p.Site, p.Function, p.Netns, p.NetnsName) is { } site) site.Tally.Add(p.Other, p.Top);
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
                        into.Tally.Add(paths.Tally.Other, paths.Tally.Paths);
        }
        return [.. merged.Sites.Select(s => s.Value.Tally.ToSite(s.Key.Site, s.Key.Function, s.Key.Netns, s.Value.NetnsName))
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
}
