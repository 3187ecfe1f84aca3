using System.Globalization;

namespace DropBoard.Agent.Counters;

/// <summary>
/// Parsers for the /proc/net counter files. Pure: text in, values out, so they are tested on real files
/// from several kernels. A malformed line is reported and skipped; the rest of the file still counts.
/// </summary>
public static class ProcNetParsers
{
    /// <summary>/proc/net/snmp and /proc/net/netstat: a header line of names, then a line of values, per group.</summary>
    public static void ParseHeaderValuePairs(string text, string file, CounterSnapshot into)
    {
        string? header = null;
        var headerLine = 0;
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            if (header is null)
            {
                header = line;
                headerLine = lineNumber;
                continue;
            }
            ParsePair(header, headerLine, line, lineNumber, file, into);
            header = null;
        }
        if (header is not null)
            into.Problems.Add($"{file}:{headerLine}: header line without a value line (truncated file?)");
    }

    private static void ParsePair(string header, int headerLine, string values, int valuesLine, string file, CounterSnapshot into)
    {
        var names = header.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var numbers = values.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (names.Length == 0 || !names[0].EndsWith(':') || numbers.Length == 0 || numbers[0] != names[0])
        {
            into.Problems.Add($"{file}:{valuesLine}: expected a '{names.FirstOrDefault()}' value line after line {headerLine}, got '{Shorten(values)}'");
            return;
        }
        if (names.Length != numbers.Length)
        {
            into.Problems.Add($"{file}:{valuesLine}: {names.Length - 1} names but {numbers.Length - 1} values in group {names[0].TrimEnd(':')}");
            return;
        }
        var group = names[0].TrimEnd(':');
        for (var i = 1; i < names.Length; i++)
        {
            if (TryParseValue(numbers[i], out var value))
                into.Values[$"{group}.{names[i]}"] = value;
            else
                into.Problems.Add($"{file}:{valuesLine}: {group}.{names[i]} is not a number: '{Shorten(numbers[i])}'");
        }
    }

    private static readonly string[] Snmp6Groups = ["UdpLite6", "Icmp6", "Udp6", "Ip6"];

    /// <summary>/proc/net/snmp6: <c>Udp6InErrors 0</c> lines; the group is split off its known prefix.</summary>
    public static void ParseSnmp6(string text, string file, CounterSnapshot into)
    {
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            var parts = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 0) continue;
            if (parts.Length != 2 || !TryParseValue(parts[1], out var value))
            {
                into.Problems.Add($"{file}:{lineNumber}: expected 'Name value', got '{Shorten(line)}'");
                continue;
            }
            var group = Snmp6Groups.FirstOrDefault(g => parts[0].StartsWith(g, StringComparison.Ordinal) && parts[0].Length > g.Length);
            into.Values[group is null ? $"Snmp6.{parts[0]}" : $"{group}.{parts[0][group.Length..]}"] = value;
        }
    }

    // Columns of net/core/net-procfs.c softnet_seq_show that are event counts (the others are zero
    // padding, a queue length gauge, or the CPU id). Older kernels print fewer columns.
    private static readonly (int Column, string Name)[] SoftnetCounters =
        [(0, "processed"), (1, "dropped"), (2, "time_squeeze"), (8, "cpu_collision"), (9, "received_rps"), (10, "flow_limit_count")];

    /// <summary>/proc/net/softnet_stat: one line of hex columns per CPU; counts are summed over CPUs.</summary>
    public static void ParseSoftnet(string text, string file, CounterSnapshot into)
    {
        var sums = new ulong[SoftnetCounters.Length];
        var seen = new bool[SoftnetCounters.Length];
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            var columns = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (columns.Length == 0) continue;
            if (columns.Length < 3)
            {
                into.Problems.Add($"{file}:{lineNumber}: {columns.Length} columns, at least 3 expected");
                continue;
            }
            var parsed = new ulong[columns.Length];
            var ok = true;
            for (var i = 0; i < columns.Length && ok; i++)
                ok = ulong.TryParse(columns[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out parsed[i]);
            if (!ok)
            {
                into.Problems.Add($"{file}:{lineNumber}: not hexadecimal columns: '{Shorten(line)}'");
                continue;
            }
            for (var k = 0; k < SoftnetCounters.Length; k++)
            {
                if (SoftnetCounters[k].Column >= columns.Length) continue;
                sums[k] += parsed[SoftnetCounters[k].Column];
                seen[k] = true;
            }
        }
        for (var k = 0; k < SoftnetCounters.Length; k++)
            if (seen[k]) into.Values[$"Softnet.{SoftnetCounters[k].Name}"] = sums[k];
    }

    private static readonly string[] DevColumns =
    [
        "rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "rx_fifo", "rx_frame", "rx_compressed", "rx_multicast",
        "tx_bytes", "tx_packets", "tx_errors", "tx_dropped", "tx_fifo", "tx_colls", "tx_carrier", "tx_compressed",
    ];

    /// <summary>/proc/net/dev: two header lines, then <c>  eth0: rx... tx...</c> per interface.</summary>
    public static void ParseDev(string text, string file, CounterSnapshot into)
    {
        var lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            if (lineNumber <= 2 || line.Trim().Length == 0) continue;
            var colon = line.IndexOf(':');
            if (colon <= 0)
            {
                into.Problems.Add($"{file}:{lineNumber}: no 'interface:' prefix in '{Shorten(line)}'");
                continue;
            }
            var name = line[..colon].Trim();
            var columns = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (columns.Length != DevColumns.Length)
            {
                into.Problems.Add($"{file}:{lineNumber}: {name} has {columns.Length} columns, expected {DevColumns.Length}");
                continue;
            }
            for (var i = 0; i < columns.Length; i++)
            {
                if (TryParseValue(columns[i], out var value))
                    into.Values[$"Dev.{name}.{DevColumns[i]}"] = value;
                else
                    into.Problems.Add($"{file}:{lineNumber}: Dev.{name}.{DevColumns[i]} is not a number: '{Shorten(columns[i])}'");
            }
        }
    }

    // Counters are unsigned 64-bit; a few snmp fields are signed constants (Tcp MaxConn -1). They never
    // change, so storing their two's complement keeps them out of the deltas without a special case.
    private static bool TryParseValue(string text, out ulong value)
    {
        if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value)) return true;
        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var signed))
        {
            value = unchecked((ulong)signed);
            return true;
        }
        return false;
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..60] + "…";
}
