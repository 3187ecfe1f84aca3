namespace DropBoard.Web.Sessions;

/// <summary>Reads two sessions and compares them (the pure part is <see cref="SessionComparison"/>).</summary>
public static class SessionCompare
{
    public static SessionComparisonResult? Run(SessionQueries queries, long a, long b)
    {
        if (queries.Get(a) is not { } sa || queries.Get(b) is not { } sb) return null;
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        return SessionComparison.Compare(
            new ComparisonSide(sa.Id, sa.Name, sa.DurationMs(now) / 1000.0, sa.Drops), queries.Sites(a), queries.Counters(a),
            new ComparisonSide(sb.Id, sb.Name, sb.DurationMs(now) / 1000.0, sb.Drops), queries.Sites(b), queries.Counters(b));
    }
}
