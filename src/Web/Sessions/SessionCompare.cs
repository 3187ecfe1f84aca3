using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Sessions;

/// <summary>Two sessions that cannot be compared; the message says which and what to do.</summary>
public sealed class CompareException(string message, bool missing) : Exception(message)
{
    /// <summary>A session does not exist (rather than: the same session twice).</summary>
    public bool Missing => missing;
}

/// <summary>Reads two sessions and compares them (the pure part is <see cref="SessionComparison"/>).</summary>
public static class SessionCompare
{
    /// <exception cref="CompareException">The two ids are one session, or a session does not exist.</exception>
    public static SessionComparisonResult Run(SessionQueries queries, long a, long b)
    {
        if (a == b) throw new CompareException($"A and B are the same session ({a}): pick another session for B", missing: false);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // The two sides are independent reads on their own connections: read them at the same time.
        var sides = new[] { a, b }.AsParallel().AsOrdered().Select(id => Read(queries, id, now)).ToArray();
        var missing = new[] { (a, "A"), (b, "B") }.Where((_, i) => sides[i] is null).Select(s => $"{s.Item2}: no session {s.Item1}").ToList();
        if (missing.Count > 0) throw new CompareException($"{string.Join("; ", missing)} (see the sessions list)", missing: true);
        var (sa, sb) = (sides[0]!.Value, sides[1]!.Value);
        return SessionComparison.Compare(sa.Side, sa.Sites, sa.Counters, sb.Side, sb.Sites, sb.Counters);
    }

    private static (ComparisonSide Side, IReadOnlyList<SessionSite> Sites, IReadOnlyList<CounterDelta> Counters)? Read(SessionQueries queries, long id, long now) =>
        queries.Get(id) is { } s
            ? (new ComparisonSide(s.Id, s.Name, s.KnownDurationMs(now) / 1000.0, s.Drops,
                    s.Hosts.Select(h => h.Kernel).Where(k => k.Length > 0).Distinct().Order(StringComparer.Ordinal).ToList(), s.HasTimestamps),
                queries.Sites(id), queries.Counters(id))
            : null;
}
