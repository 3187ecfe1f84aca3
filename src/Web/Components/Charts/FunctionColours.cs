using DropBoard.Web.Views;

namespace DropBoard.Web.Components.Charts;

/// <summary>
/// One colour per kernel function (or counter), the same on every page and chart: picked by a hash of the name from
/// twelve that stay apart in light and dark themes, so a function keeps its colour when others come and go.
/// </summary>
public static class FunctionColours
{
    private static readonly string[] Palette =
    [
        "#2563eb", "#f97316", "#16a34a", "#dc2626", "#9333ea", "#0891b2",
        "#ca8a04", "#db2777", "#4f46e5", "#65a30d", "#0d9488", "#a16207",
    ];

    /// <summary>The rest, summed: grey, so it never reads as a function.</summary>
    public const string OtherColour = "#9ca3af";

    public static int Count => Palette.Length;

    public static string Of(string name)
    {
        if (name == TimeSeries.Other) return OtherColour;
        // FNV-1a over UTF-16 code units: stable across processes, unlike string.GetHashCode.
        var hash = 2166136261u;
        foreach (var c in name) hash = (hash ^ c) * 16777619u;
        return Palette[hash % (uint)Palette.Length];
    }
}
