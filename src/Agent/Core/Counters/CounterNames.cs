namespace DropBoard.Agent.Counters;

/// <summary>
/// One string per counter name, shared by the snapshots of a sampler: parsing builds a name in a stack
/// buffer and looks it up here, so a steady sample allocates no strings at all.
/// </summary>
internal sealed class CounterNames
{
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly HashSet<string>.AlternateLookup<ReadOnlySpan<char>> _lookup;

    public CounterNames() => _lookup = _names.GetAlternateLookup<ReadOnlySpan<char>>();

    public int Count => _names.Count;

    public string Get(ReadOnlySpan<char> name)
    {
        if (_lookup.TryGetValue(name, out var known)) return known;
        var added = name.ToString();
        _names.Add(added);
        return added;
    }

    /// <summary>Forgets names no longer in use (interfaces come and go on container hosts); keeps <paramref name="inUse"/>.</summary>
    public void KeepOnly(IReadOnlyCollection<string> inUse)
    {
        if (_names.Count <= 2 * inUse.Count + 256) return;
        _names.Clear();
        foreach (var name in inUse) _names.Add(name);
    }
}
