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

    [GeneratedRegex(@"^\s*(?:(?<value>\d+) (?<words>.+?)|(?<words>\S+:) (?<value>\d+))\s*$")]
    private static partial Regex ValueLine();

    [GeneratedRegex(@"^(\S.*):\s*$")]
    private static partial Regex SectionLine();

    public static Dictionary<string, long> Parse(string text, string what)
    {
        var values = new Dictionary<string, long>(StringComparer.Ordinal);
        var section = "Udp";
        var lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0) continue;
            if (SectionLine().Match(line) is { Success: true } s && !char.IsWhiteSpace(line[0]))
            {
                section = s.Groups[1].Value;
                continue;
            }
            var m = ValueLine().Match(line);
            if (!m.Success)
                throw new ImportException($"{what}, line {lineNumber}: not a netstat -su line: '{line.Trim()}'");
            if (section != "Udp") continue;
            var words = m.Groups["words"].Value.Trim();
            var counter = UdpLines.FirstOrDefault(u => u.Words == words).Counter;
            if (counter is null) continue; // a line netstat added later; nothing DropBoard attributes
            values[counter] = long.Parse(m.Groups["value"].Value, CultureInfo.InvariantCulture);
        }
        if (values.Count == 0)
            throw new ImportException($"{what}: no Udp counter found (expected lines such as '174 packet receive errors')");
        return values;
    }

    /// <summary>Rises from before to after, for counters present in both; a counter that fell is an error (reset or swapped files).</summary>
    public static List<CounterDelta> Deltas(Dictionary<string, long> before, Dictionary<string, long> after, long atMs)
    {
        var deltas = new List<CounterDelta>();
        foreach (var (name, value) in after.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            if (!before.TryGetValue(name, out var old)) continue;
            if (value < old)
                throw new ImportException($"{name} fell from {old} to {value} between the before and after netstat files: swapped files, or a reboot in between");
            if (value > old) deltas.Add(new CounterDelta(name, value - old, atMs));
        }
        return deltas;
    }
}
