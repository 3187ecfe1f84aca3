namespace DropBoard.Web.Live;

/// <summary>
/// The newest values of one host, oldest first, in one array that grows up to what the store allows this host and is
/// reused as a ring: no object per value, so a fleet's 10 ms buckets cost their few bytes each and no more.
/// Not thread-safe: the owning host state locks around it.
/// </summary>
internal sealed class FineRing<T> where T : struct
{
    private T[] _items = new T[256];
    private int _head;

    public int Count { get; private set; }

    public ref readonly T Oldest => ref _items[_head];

    public void Add(in T item)
    {
        if (Count == _items.Length) Resize(_items.Length * 2);
        _items[(_head + Count) % _items.Length] = item;
        Count++;
    }

    public T RemoveOldest()
    {
        var oldest = _items[_head];
        _head = (_head + 1) % _items.Length;
        Count--;
        return oldest;
    }

    /// <summary>Gives memory back once the ring holds far less than it has room for (the host's share shrank, or it went quiet).</summary>
    public void Shrink()
    {
        if (_items.Length > 1024 && Count < _items.Length / 4) Resize(Math.Max(256, Count * 2));
    }

    public IEnumerable<T> Where(Func<T, bool> keep)
    {
        for (var i = 0; i < Count; i++)
        {
            var item = _items[(_head + i) % _items.Length];
            if (keep(item)) yield return item;
        }
    }

    private void Resize(int length)
    {
        var items = new T[length];
        for (var i = 0; i < Count; i++) items[i] = _items[(_head + i) % _items.Length];
        _items = items;
        _head = 0;
    }
}
