using System.Globalization;
using System.Text.RegularExpressions;
using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Sessions.Import;

/// <summary>
/// <c>netstat -su</c> text (whole, or only some of its lines) read into DropBoard counter names, so two of
/// them make counter deltas. netstat prints /proc/net/snmp values in words; the table below maps its Udp
/// lines back (net-tools statistics.c).
/// </summary>
public static partial class NetstatSummary
{
    private static readonly (string Words, string Counter)[] UdpLines =
    [
        ("packets received", "Udp.InDatagrams"),
        ("packets to unknown port received.", "Udp.NoPorts"),
        ("packet receive errors", "Udp.InErrors"),
        ("packets sent", "Udp.OutDatagrams"),
        ("receive buffer errors", "Udp.RcvbufErrors"),
        ("send buffer errors", "Udp.SndbufErrors"),
        ("InCsumErrors:", "Udp.InCsumErrors"),
        ("IgnoredMulti:", "Udp.IgnoredMulti"),
    ];

    // Matched on the trimmed line: a lazy group before "\s*$" is quadratic on a line of spaces.
    [GeneratedRegex(@"^(?:(?<value>\d+) (?<words>.+)|(?<words>\S+:) (?<value>\d+))$")]
    private static partial Regex ValueLine();

    [GeneratedRegex(@"^(\S.*):\s*$")]
    private static partial Regex SectionLine();

    public static Dictionary<string, long> Parse(string text, string what)
    {
        if (text.Length > ImportLimits.MaxNetstatBytes || System.Text.Encoding.UTF8.GetByteCount(text) > ImportLimits.MaxNetstatBytes)
            throw ImportException.Oversized(what, ImportLimits.MaxNetstatBytes);
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        var section = "Udp";
        foreach (var (number, line) in ImportText.Lines(text, what))
        {
            if (line.Trim().Length == 0) continue;
            if (SectionLine().Match(line) is { Success: true } s && !char.IsWhiteSpace(line[0]))
            {
                section = s.Groups[1].Value;
                continue;
            }
            var m = ValueLine().Match(line.Trim());
            if (!m.Success)
                throw ImportException.AtLine(number, $"not a netstat -su line: '{ImportException.Excerpt(line.Trim())}'", what);
            if (section != "Udp") continue;
            var words = m.Groups["words"].Value.Trim();
            var counter = UdpLines.FirstOrDefault(u => u.Words == words).Counter;
            if (counter is null) continue; // a line netstat added later; nothing DropBoard attributes
            if (!long.TryParse(m.Groups["value"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var value))
                throw ImportException.AtLine(number, $"{counter} value '{ImportException.Excerpt(m.Groups["value"].Value)}' is not a counter value (a decimal number within 64 bits)", what);
            values[counter] = value;
        }
        if (values.Count == 0)
            throw new ImportException($"{what}: no Udp counter found (expected lines such as '174 packet receive errors')");
        return values;
    }

    /// <summary>Rises from before to after, for counters present in both; a counter that fell is an error (reset or swapped files).</summary>
    public static List<CounterDelta> Deltas(Dictionary<string, long> before, Dictionary<string, long> after, long atMs)
    {
        // A counter in one file and not the other: a file cut short (mid-line) or from another host; its rise is unknowable.
        if (before.Keys.FirstOrDefault(name => !after.ContainsKey(name)) is { } onlyBefore)
            throw new ImportException($"netstat after has no {onlyBefore} line that netstat before has: cut short, or from another command or host?");
        if (after.Keys.FirstOrDefault(name => !before.ContainsKey(name)) is { } onlyAfter)
            throw new ImportException($"netstat before has no {onlyAfter} line that netstat after has: cut short, or from another command or host?");
        var deltas = new List<CounterDelta>();
        foreach (var (name, value) in after.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            var old = before[name];
            if (value < old)
                throw new ImportException($"{name} fell from {old} to {value} between the before and after netstat files: swapped files, or a reboot in between");
            if (value - old > ImportLimits.MaxCount)
                throw new ImportException($"{name} rose by {value - old} between the before and after netstat files, more than the {ImportLimits.MaxCount} an import takes");
            if (value > old) deltas.Add(new CounterDelta(name, value - old, atMs));
        }
        return deltas;
    }
}
