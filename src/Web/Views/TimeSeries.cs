namespace DropBoard.Web.Views;

/// <summary>Values per second for a few named series, aligned on <see cref="Seconds"/> (Unix seconds).</summary>
public sealed record TimeSeries(long[] Seconds, IReadOnlyList<NamedSeries> Series)
{
    /// <summary>The series that sums what is not among the top ones.</summary>
    public const string Other = "other";
}

public sealed record NamedSeries(string Name, long[] Values);
