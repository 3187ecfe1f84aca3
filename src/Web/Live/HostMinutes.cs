namespace DropBoard.Web.Live;

/// <summary>
/// Per host, the minutes of the live window (<see cref="LiveStore.Keep"/>), each a <typeparamref name="TMinute"/> made on
/// first use; a new minute drops those gone past the window. Not thread-safe: the owner locks around it.
/// </summary>
internal sealed class HostMinutes<TMinute>(Func<TMinute> create)
{
    private readonly Dictionary<string, List<(long Number, TMinute Minute)>> _hosts = new(StringComparer.Ordinal);

    /// <summary>The host's minute <paramref name="number"/> (minutes since 1970), made if new.</summary>
    public TMinute At(string hostId, long number)
    {
        if (!_hosts.TryGetValue(hostId, out var minutes)) _hosts[hostId] = minutes = [];
        foreach (var (n, minute) in minutes)
            if (n == number) return minute;
        var made = create();
        minutes.Add((number, made));
        minutes.Sort(static (a, b) => a.Number.CompareTo(b.Number));
        minutes.RemoveAll(m => m.Number <= number - (long)LiveStore.Keep.TotalMinutes);
        return made;
    }

    public bool Knows(string hostId) => _hosts.ContainsKey(hostId);

    /// <summary>The host's minutes from minute <paramref name="from"/> on, oldest first.</summary>
    public IEnumerable<TMinute> Since(string hostId, long from) =>
        _hosts.TryGetValue(hostId, out var minutes) ? minutes.Where(m => m.Number >= from).Select(m => m.Minute) : [];
}
