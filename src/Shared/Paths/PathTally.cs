using DropBoard.Shared.Contracts;

namespace DropBoard.Shared.Paths;

/// <summary>
/// One site's drop paths summed over batches (the terminal's run, the dashboard's live window): each path's drops, at
/// most <paramref name="maxPaths"/> told apart; the drops of the rest, and each batch's drops past its top paths, are the
/// site's other drops, so the drops always add up.
/// </summary>
public sealed class PathTally(int maxPaths)
{
    private readonly Dictionary<string, StackPath> _paths = new(StringComparer.Ordinal);

    public long Other { get; private set; }

    public IEnumerable<StackPath> Paths => _paths.Values;

    public long Drops => Other + _paths.Values.Sum(p => p.Drops);

    public void Add(long other, IEnumerable<StackPath> top)
    {
        Other += other;
        foreach (var p in top)
        {
            var key = p.Missing ?? string.Join('\n', p.Frames);
            if (_paths.TryGetValue(key, out var known)) _paths[key] = known with { Drops = known.Drops + p.Drops };
            else if (_paths.Count < maxPaths) _paths[key] = p;
            else Other += p.Drops;
        }
    }

    /// <summary>The site as a batch carries it: its most-taken paths first (at most <see cref="PathSite.MaxTop"/>), the rest as other drops.</summary>
    public PathSite ToSite(string site, string function, uint netns, string? netnsName)
    {
        var ordered = _paths.Values.OrderByDescending(p => p.Drops).ThenBy(p => p.Missing, StringComparer.Ordinal)
            .ThenBy(p => string.Join('\n', p.Frames), StringComparer.Ordinal).ToList();
        var top = ordered.Take(PathSite.MaxTop).ToList();
        return new PathSite(site, function, Drops, top, Other + ordered.Skip(PathSite.MaxTop).Sum(p => p.Drops), netns, netnsName);
    }
}
