using System.Runtime.InteropServices;

namespace DropBoard.Web.Sessions;

/// <summary>The resolutions a session's drops are kept at: its hosts' 10 ms buckets, and their sums per second, per 10 seconds and per minute.</summary>
public enum Resolution { Bucket, Second, TenSeconds, Minute }

public static class Rollup
{
    public const long SecondMs = 1000, TenSecondsMs = 10_000, MinuteMs = 60_000;

    /// <summary>The second or minute (<paramref name="unitMs"/>) a time in ms falls in, rounded down also before 1970.</summary>
    public static long Floor(long ms, long unitMs) => Math.DivRem(ms, unitMs, out var rest) - (rest < 0 ? 1 : 0);

    public static long Ceiling(long ms, long unitMs) => -Floor(-ms, unitMs);

    public static long Milliseconds(this Resolution resolution, int bucketMs) => resolution switch
    {
        Resolution.Second => SecondMs,
        Resolution.TenSeconds => TenSecondsMs,
        Resolution.Minute => MinuteMs,
        _ => bucketMs,
    };
}

/// <summary>A row of a drops table: a host's count at one site in one bucket, second, 10 seconds or minute (<c>At</c>).</summary>
public readonly record struct DropRow(long Host, long At, long Site, long Count);

/// <summary>
/// The drops of one transaction summed per 10 ms bucket, second, 10 seconds and minute of each host and site, so each
/// row is written once however many batches of the transaction add to it; and each host's drops, and the 10 ms rows
/// they made (<see cref="Stored"/>). The four sums hold the same drops: totals from any of them are equal.
/// </summary>
public sealed class DropSums
{
    private readonly Dictionary<(long Host, long At, long Site), long> _buckets = [], _seconds = [], _tens = [], _minutes = [];
    private readonly Dictionary<long, (long Drops, long Rows)> _hosts = [];

    public bool IsEmpty => _hosts.Count == 0;

    public void Add(long host, long site, long startMs, long count)
    {
        // A 10 ms row new to the transaction: new to the table too, unless Stored finds it was there.
        if (!_buckets.ContainsKey((host, startMs, site))) CollectionsMarshal.GetValueRefOrAddDefault(_hosts, host, out _).Rows++;
        Sum(_buckets, (host, startMs, site), count);
        Sum(_seconds, (host, Rollup.Floor(startMs, Rollup.SecondMs), site), count);
        CollectionsMarshal.GetValueRefOrAddDefault(_hosts, host, out _).Drops += count;
    }

    /// <summary>
    /// A 10 ms row as the table holds it once this transaction's drops are in: told at least of every row that was
    /// there before (a bucket whose drops came in an earlier transaction too, as the agent splits a bucket at a counter
    /// sample), which holds more than this transaction's drops and is not a new row.
    /// </summary>
    public void Stored(DropRow row)
    {
        if (_buckets.TryGetValue((row.Host, row.At, row.Site), out var sum) && row.Count != sum)
            CollectionsMarshal.GetValueRefOrAddDefault(_hosts, row.Host, out _).Rows--;
    }

    /// <summary>In the order of each table's key (host, time, site): the rows land next to each other.</summary>
    public List<DropRow> Rows(Resolution resolution)
    {
        var sums = resolution switch
        {
            Resolution.Second => _seconds,
            Resolution.TenSeconds => FromSeconds(_tens, 10),
            Resolution.Minute => FromSeconds(_minutes, 60),
            _ => _buckets,
        };
        var rows = new List<DropRow>(sums.Count);
        foreach (var (key, count) in sums) rows.Add(new DropRow(key.Host, key.At, key.Site, count));
        rows.Sort(static (a, b) =>
        {
            var c = a.Host.CompareTo(b.Host);
            if (c == 0) c = a.At.CompareTo(b.At);
            return c != 0 ? c : a.Site.CompareTo(b.Site);
        });
        return rows;
    }

    public IEnumerable<(long Host, long Drops, long Rows)> Hosts => _hosts.Select(kv => (kv.Key, kv.Value.Drops, kv.Value.Rows));

    public void Clear()
    {
        _buckets.Clear();
        _seconds.Clear();
        _tens.Clear();
        _minutes.Clear();
        _hosts.Clear();
    }

    // The coarser sums from the seconds, once a transaction: fewer of them than drops.
    private Dictionary<(long Host, long At, long Site), long> FromSeconds(Dictionary<(long Host, long At, long Site), long> sums, long seconds)
    {
        sums.Clear();
        foreach (var ((host, second, site), count) in _seconds) Sum(sums, (host, Rollup.Floor(second, seconds), site), count);
        return sums;
    }

    // One hash lookup per drop and table: the writer sums every drop of a transaction twice, per bucket and per second.
    private static void Sum(Dictionary<(long Host, long At, long Site), long> sums, (long, long, long) key, long count) =>
        CollectionsMarshal.GetValueRefOrAddDefault(sums, key, out _) += count;
}
