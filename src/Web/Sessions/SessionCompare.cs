using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Sessions;

/// <summary>Reads two sessions and compares them (the pure part is <see cref="SessionComparison"/>).</summary>
public static class SessionCompare
{
    public static SessionComparisonResult? Run(SessionQueries queries, long a, long b)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        // The two sides are independent reads on their own connections: read them at the same time.
        var sides = new[] { a, b }.AsParallel().AsOrdered().Select(id => Read(queries, id, now)).ToArray();
        if (sides[0] is not { } sa || sides[1] is not { } sb) return null;
        return SessionComparison.Compare(sa.Side, sa.Sites, sa.Counters, sb.Side, sb.Sites, sb.Counters);
    }

    private static (ComparisonSide Side, IReadOnlyList<SessionSite> Sites, IReadOnlyList<CounterDelta> Counters)? Read(SessionQueries queries, long id, long now) =>
        queries.Get(id) is { } s
            ? (new ComparisonSide(s.Id, s.Name, s.DurationMs(now) / 1000.0, s.Drops), queries.Sites(id), queries.Counters(id))
            : null;
}
