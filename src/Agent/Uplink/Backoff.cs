namespace DropBoard.Agent.Uplink;

/// <summary>
/// How long to wait before sending again: doubles from <c>first</c> up to <c>ceiling</c>, each wait drawn between
/// half and all of it, so agents that lost one dashboard together do not all come back at the same instant.
/// </summary>
public sealed class Backoff(TimeSpan first, TimeSpan ceiling, Random random)
{
    private readonly TimeSpan _first = first;
    private TimeSpan _next = first;

    /// <summary>The agent's: 1 s, doubling to 30 s.</summary>
    public static Backoff ForUplink() => new(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), Random.Shared);

    public TimeSpan Next()
    {
        var wait = _next * (0.5 + 0.5 * random.NextDouble());
        _next = _next * 2 < ceiling ? _next * 2 : ceiling;
        return wait;
    }

    /// <summary>After a success: the next trouble starts from <c>first</c> again.</summary>
    public void Reset() => _next = _first;
}
