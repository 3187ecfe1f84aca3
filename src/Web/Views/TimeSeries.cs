namespace DropBoard.Web.Views;

/// <summary>Values per second for a few named series, aligned on <see cref="Seconds"/> (Unix seconds).</summary>
public sealed record TimeSeries(long[] Seconds, IReadOnlyList<NamedSeries> Series)
{
    /// <summary>The series that sums what is not among the top ones.</summary>
    public const string Other = "other";

    public static readonly TimeSeries Empty = new([], []);

    /// <summary>
    /// The <paramref name="top"/> names with the most in all, biggest first (ties by name), each a series; the
    /// rest summed as <see cref="Other"/>. A point's <c>Slot</c> is its index in <paramref name="seconds"/>.
    /// </summary>
    public static TimeSeries Top(long[] seconds, IEnumerable<(int Slot, string Name, long Value)> points, int top)
    {
        var list = points as IReadOnlyCollection<(int Slot, string Name, long Value)> ?? points.ToList();
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (_, name, value) in list) totals[name] = totals.GetValueOrDefault(name) + value;
        var named = totals.OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Take(top).Select(kv => kv.Key).ToList();
        return Build(seconds, list, named, withOther: totals.Count > named.Count);
    }

    /// <summary>One series per name given, in that order; points of other names are left out.</summary>
    public static TimeSeries Named(long[] seconds, IEnumerable<(int Slot, string Name, long Value)> points, IReadOnlyList<string> names) =>
        Build(seconds, points, names, withOther: false);

    private static TimeSeries Build(long[] seconds, IEnumerable<(int Slot, string Name, long Value)> points, IReadOnlyList<string> named, bool withOther)
    {
        var index = named.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i, StringComparer.Ordinal);
        var values = Enumerable.Range(0, named.Count + (withOther ? 1 : 0)).Select(_ => new long[seconds.Length]).ToArray();
        foreach (var (slot, name, value) in points)
        {
            if (index.TryGetValue(name, out var i)) values[i][slot] += value;
            else if (withOther) values[^1][slot] += value;
        }
        var series = named.Select((n, i) => new NamedSeries(n, values[i])).ToList();
        if (withOther) series.Add(new NamedSeries(Other, values[^1]));
        return new TimeSeries(seconds, series);
    }
}

public sealed record NamedSeries(string Name, long[] Values);
