namespace DropBoard.Agent.Counters;

/// <summary>Counter values read at one moment, by <c>Group.Name</c>, plus what could not be read.</summary>
public sealed class CounterSnapshot
{
    public Dictionary<string, ulong> Values { get; } = new(StringComparer.Ordinal);

    /// <summary>Lines that did not parse, each naming file and line; the valid rest is still in <see cref="Values"/>.</summary>
    public List<string> Problems { get; } = [];
}
