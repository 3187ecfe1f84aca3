namespace DropBoard.Web.Live;

/// <summary>
/// A <see cref="SecondRing"/>'s sums over the <c>span</c> seconds from <see cref="From"/> on, by group (a site's
/// function), kept as values arrive and as seconds fall behind the window: the host list reads each host's last minute
/// without going over the minute's seconds on every refresh. Every second leaves once, so keeping up costs what
/// arrives. Not thread-safe: the owning host state locks around it.
/// </summary>
/// <param name="groupOf">The group of each key of the ring (site id to function id); it only grows.</param>
internal sealed class WindowTotals(SecondRing ring, IReadOnlyList<int> groupOf, int span)
{
    private readonly List<long> _sums = [];
    private long _from;

    /// <summary>The sum of each group by group id (zero for a group with nothing in the window).</summary>
    public IReadOnlyList<long> Sums => _sums;

    public long Total { get; private set; }

    /// <summary>A value the ring took for <paramref name="second"/>, at or before the window's end.</summary>
    public void Added(long second, int key, long value)
    {
        if (second >= _from) Add(groupOf[key], value);
    }

    /// <summary>
    /// The window starts at <paramref name="from"/> now. Call it before the ring takes values for seconds past the
    /// window, since those may reuse the slots of the seconds leaving it.
    /// </summary>
    public void MoveTo(long from)
    {
        if (from == _from) return;
        if (from > _from && from - _from <= span)
            Count(_from, from - 1, -1);
        else
        {
            // Far ahead (a quiet spell) or back (the clock stepped back): count the window afresh.
            _sums.Clear();
            Total = 0;
            Count(from, from + span - 1, 1);
        }
        _from = from;
    }

    private void Count(long first, long last, int sign)
    {
        foreach (var (_, sums) in ring.Range(first, last))
            foreach (var (key, value) in sums)
                Add(groupOf[key], sign * value);
    }

    private void Add(int group, long value)
    {
        while (_sums.Count <= group) _sums.Add(0);
        _sums[group] += value;
        Total += value;
    }
}
