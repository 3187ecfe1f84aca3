namespace DropBoard.Shared.Analysis;

/// <summary>
/// Names with <c>*</c> wildcards, as the knowledge table writes counters the agent names per device, qdisc or
/// rule (<c>Qdisc.*.dropped</c>, <c>Dev.*.rx_dropped</c>) and kernel functions with variants. A <c>*</c> stands
/// for any text, dots included (a VLAN device is <c>eth0.100</c>); everything else is compared exactly.
/// </summary>
public static class CounterPattern
{
    public static bool IsPattern(string name) => name.Contains('*');

    public static bool Matches(string pattern, string name) => Matches(pattern.AsSpan(), name.AsSpan());

    private static bool Matches(ReadOnlySpan<char> pattern, ReadOnlySpan<char> name)
    {
        var star = pattern.IndexOf('*');
        if (star < 0) return pattern.SequenceEqual(name);
        if (!name.StartsWith(pattern[..star])) return false;
        var rest = pattern[(star + 1)..];
        // The text a star stands for may be empty or anything, so try every place the rest could begin.
        for (var i = star; i <= name.Length; i++)
            if (Matches(rest, name[i..])) return true;
        return false;
    }
}
