using System.Text;

namespace DropBoard.Agent.Counters;

/// <summary>
/// Parsers for the /proc/net counter files. Pure: UTF-8 bytes in, values out, so they are tested on real
/// files from several kernels. A malformed line is reported (file and line) and skipped; every valid line
/// of the file still counts.
/// </summary>
public static class ProcNetParsers
{
    /// <summary>/proc/net/snmp and /proc/net/netstat: per group, a line of names then a line of values.</summary>
    public static void ParseHeaderValuePairs(ReadOnlySpan<byte> text, string file, CounterSnapshot into)
    {
        // IcmpMsg lists only the message types seen so far (net/ipv4/proc.c icmpmsg_put).
        into.AddImpliedZeroPrefix("IcmpMsg.");
        ReadOnlySpan<byte> header = default, headerGroup = default;
        var headerLine = 0;
        var lines = new ProcNetLines(text);
        while (lines.MoveNext())
        {
            var tokens = new ProcNetTokens(lines.Current);
            if (!tokens.MoveNext()) continue;
            var prefix = tokens.Current;
            if (prefix.Length < 2 || prefix[^1] != (byte)':')
            {
                into.Problems.Add($"{file}:{lines.Number}: no 'Group:' prefix in '{ProcNetNumbers.Quote(lines.Current)}'");
                continue;
            }
            var group = prefix[..^1];
            // Names start with a letter, values with a digit or '-'; an empty group pairs with its header.
            var isValues = tokens.MoveNext()
                ? tokens.Current[0] is (>= (byte)'0' and <= (byte)'9') or (byte)'-'
                : headerLine > 0 && headerGroup.SequenceEqual(group);
            if (!isValues)
            {
                if (headerLine > 0) HeaderWithoutValues(file, headerLine, headerGroup, into);
                header = lines.Current;
                headerGroup = group;
                headerLine = lines.Number;
                continue;
            }
            if (headerLine == 0 || !headerGroup.SequenceEqual(group))
            {
                into.Problems.Add($"{file}:{lines.Number}: values of group {Encoding.UTF8.GetString(group)} without its line of names");
                continue;
            }
            if (!lines.Complete)
                into.Problems.Add($"{file}:{lines.Number}: group {Encoding.UTF8.GetString(group)} cut short (no end of line); group skipped");
            else
                ParsePair(group, header, headerLine, lines.Current, lines.Number, file, into);
            headerLine = 0;
        }
        if (headerLine > 0) HeaderWithoutValues(file, headerLine, headerGroup, into);
    }

    public static void ParseHeaderValuePairs(string text, string file, CounterSnapshot into) =>
        ParseHeaderValuePairs(Encoding.UTF8.GetBytes(text), file, into);

    private static void HeaderWithoutValues(string file, int headerLine, ReadOnlySpan<byte> group, CounterSnapshot into) =>
        into.Problems.Add($"{file}:{headerLine}: names of group {Encoding.UTF8.GetString(group)} without a line of values (truncated file?)");

    private static void ParsePair(ReadOnlySpan<byte> group, ReadOnlySpan<byte> header, int headerLine, ReadOnlySpan<byte> values, int valuesLine, string file, CounterSnapshot into)
    {
        var names = new ProcNetTokens(header);
        var numbers = new ProcNetTokens(values);
        var nameCount = names.Count() - 1;
        var valueCount = numbers.Count() - 1;
        if (nameCount != valueCount)
        {
            // Which column is missing cannot be known: pairing them anyway would file values under wrong names.
            into.Problems.Add($"{file}:{valuesLine}: group {Encoding.UTF8.GetString(group)} has {nameCount} names (line {headerLine}) but {valueCount} values; group skipped");
            return;
        }
        names.MoveNext();
        numbers.MoveNext();
        while (names.MoveNext() && numbers.MoveNext())
        {
            if (ProcNetNumbers.TryParseDecimal(numbers.Current, out var value))
                into.Set(group, names.Current, default, value);
            else
                into.Problems.Add($"{file}:{valuesLine}: {Encoding.UTF8.GetString(group)}.{Encoding.UTF8.GetString(names.Current)} is not a number: '{ProcNetNumbers.Quote(numbers.Current)}'");
        }
    }

    /// <summary>
    /// /proc/net/snmp6: <c>Udp6InErrors  0</c> lines. The group is the name up to the end of its first run of
    /// digits (<c>Ip6</c>, <c>Icmp6</c>, <c>Udp6</c>, <c>UdpLite6</c>), so <c>Icmp6InType133</c> is
    /// <c>Icmp6.InType133</c> and a group a later kernel adds splits the same way.
    /// </summary>
    public static void ParseSnmp6(ReadOnlySpan<byte> text, string file, CounterSnapshot into)
    {
        // net/ipv6/proc.c prints the per-type ICMPv6 counters only once non-zero.
        into.AddImpliedZeroPrefix("Icmp6.InType");
        into.AddImpliedZeroPrefix("Icmp6.OutType");
        var lines = new ProcNetLines(text);
        while (lines.MoveNext())
        {
            var tokens = new ProcNetTokens(lines.Current);
            var count = tokens.Count();
            if (count == 0) continue;
            tokens.MoveNext();
            var name = tokens.Current;
            tokens.MoveNext();
            if (count != 2 || !lines.Complete || !ProcNetNumbers.TryParseDecimal(tokens.Current, out var value))
            {
                into.Problems.Add($"{file}:{lines.Number}: expected 'Name value', got '{ProcNetNumbers.Quote(lines.Current)}'{(lines.Complete ? "" : " (cut short)")}");
                continue;
            }
            var split = Snmp6GroupLength(name);
            if (split > 0)
                into.Set(name[..split], name[split..], default, value);
            else
                into.Set("Snmp6"u8, name, default, value);
        }
    }

    public static void ParseSnmp6(string text, string file, CounterSnapshot into) =>
        ParseSnmp6(Encoding.UTF8.GetBytes(text), file, into);

    private static int Snmp6GroupLength(ReadOnlySpan<byte> name)
    {
        var digit = name.IndexOfAnyInRange((byte)'0', (byte)'9');
        if (digit <= 0) return 0;
        var end = name[digit..].IndexOfAnyExceptInRange((byte)'0', (byte)'9');
        return end < 0 ? 0 : digit + end;
    }

    /// <summary>
    /// The event-count columns of net/core/net-procfs.c softnet_seq_show, by position. The rest are zero
    /// padding (old fastroute), queue-length gauges and the CPU id. 3.10 prints 10 columns, 3.11 adds
    /// flow_limit_count, later kernels the backlog length and CPU id (13), then the two queue lengths (15).
    /// </summary>
    internal static readonly SoftnetCounter[] SoftnetCounters =
    [
        new(0, "processed", PerCpuDelta: false),
        new(1, "dropped", PerCpuDelta: true),
        new(2, "time_squeeze", PerCpuDelta: true),
        new(8, "cpu_collision", PerCpuDelta: false),
        new(9, "received_rps", PerCpuDelta: false),
        new(10, "flow_limit_count", PerCpuDelta: true),
    ];

    private const int SoftnetCpuIdColumn = 12;

    /// <summary>
    /// /proc/net/softnet_stat: a line of hex columns per online CPU. Stores each CPU's counters
    /// (<c>Softnet.cpu1.dropped</c>) and their sums (<c>Softnet.dropped</c>). The CPU is the id column where
    /// the kernel prints one, else the line's position (offline CPUs have no line on any kernel).
    /// </summary>
    public static void ParseSoftnet(ReadOnlySpan<byte> text, string file, CounterSnapshot into)
    {
        Span<ulong> sums = stackalloc ulong[SoftnetCounters.Length];
        Span<ulong> columns = stackalloc ulong[MaxSoftnetColumns];
        Span<byte> cpuName = stackalloc byte[16];
        Span<byte> cpusSeen = stackalloc byte[MaxCpus / 8];
        cpusSeen.Clear();
        var layout = SoftnetLayout(text);
        var position = -1;
        var lines = new ProcNetLines(text);
        while (lines.MoveNext())
        {
            var tokens = new ProcNetTokens(lines.Current);
            var count = 0;
            var bad = ReadOnlySpan<byte>.Empty;
            while (tokens.MoveNext() && count < columns.Length)
            {
                if (!TryParseSoftnetColumn(tokens.Current, out columns[count]) && bad.IsEmpty) bad = tokens.Current;
                count++;
            }
            if (count == 0) continue;
            position++;
            var cpu = count > SoftnetCpuIdColumn ? columns[SoftnetCpuIdColumn] : (ulong)position;
            // Every line comes from the same format string: one with another column count was damaged, and
            // its columns (even its CPU id) cannot be trusted.
            var why = !bad.IsEmpty ? $"'{ProcNetNumbers.Quote(bad)}' is not an 8-digit hexadecimal column"
                : count < 3 ? $"{count} columns, at least 3 expected"
                : count != layout ? $"{count} columns where the other CPUs' lines have {layout}"
                : !lines.Complete ? "cut short (no end of line)"
                : cpu >= MaxCpus || (cpusSeen[(int)cpu / 8] & (1 << (int)(cpu % 8))) != 0 ? $"CPU id {cpu} out of range or repeated"
                : null;
            if (why is not null)
            {
                into.Problems.Add($"{file}:{lines.Number}: {why}; this CPU's line skipped");
                continue;
            }
            cpusSeen[(int)cpu / 8] |= (byte)(1 << (int)(cpu % 8));
            "cpu"u8.CopyTo(cpuName);
            cpu.TryFormat(cpuName[3..], out var digits);
            for (var k = 0; k < SoftnetCounters.Length; k++)
            {
                var column = SoftnetCounters[k].Column;
                if (column >= count) continue;
                into.Set("Softnet"u8, cpuName[..(3 + digits)], SoftnetCounters[k].Utf8Name, columns[column]);
                sums[k] += columns[column];
            }
        }
        for (var k = 0; k < SoftnetCounters.Length; k++)
            if (SoftnetCounters[k].Column < layout)
                into.Set("Softnet"u8, SoftnetCounters[k].Utf8Name, default, sums[k]);
    }

    private const int MaxSoftnetColumns = 32;

    /// <summary>NR_CPUS is at most 8192 on any architecture today.</summary>
    private const int MaxCpus = 1 << 14;

    /// <summary>Every kernel prints each column as %08x: another width is a damaged column.</summary>
    private static bool TryParseSoftnetColumn(ReadOnlySpan<byte> token, out ulong value)
    {
        value = 0;
        return token.Length == 8 && ProcNetNumbers.TryParseHex(token, out value);
    }

    /// <summary>
    /// The column count of this file's lines: the one most well-formed lines have among the counts kernels print (10, 11,
    /// 13, and 15 or more as columns get added), the larger on a tie (a line split in two makes two short
    /// ones). Only when no line has such a count, the most common count.
    /// </summary>
    private static int SoftnetLayout(ReadOnlySpan<byte> text)
    {
        Span<int> lines = stackalloc int[MaxSoftnetColumns + 1];
        lines.Clear();
        var all = new ProcNetLines(text);
        while (all.MoveNext())
        {
            var tokens = new ProcNetTokens(all.Current);
            var count = 0;
            while (tokens.MoveNext() && count >= 0) count = TryParseSoftnetColumn(tokens.Current, out _) ? count + 1 : -1;
            if (count > 0) lines[Math.Min(count, MaxSoftnetColumns)]++;
        }
        int best = 0, bestPrintable = 0;
        for (var count = 1; count <= MaxSoftnetColumns; count++)
        {
            if (lines[count] >= lines[best]) best = count;
            if (count is 10 or 11 or 13 or >= 15 && lines[count] > 0 && lines[count] >= lines[bestPrintable]) bestPrintable = count;
        }
        return bestPrintable > 0 ? bestPrintable : best;
    }

    public static void ParseSoftnet(string text, string file, CounterSnapshot into) =>
        ParseSoftnet(Encoding.UTF8.GetBytes(text), file, into);

    private static readonly byte[][] DevColumns =
    [
        .. new[]
        {
            "rx_bytes", "rx_packets", "rx_errors", "rx_dropped", "rx_fifo", "rx_frame", "rx_compressed", "rx_multicast",
            "tx_bytes", "tx_packets", "tx_errors", "tx_dropped", "tx_fifo", "tx_colls", "tx_carrier", "tx_compressed",
        }.Select(Encoding.ASCII.GetBytes),
    ];

    /// <summary>
    /// /proc/net/dev: two header lines (with '|'), then <c>  eth0: rx... tx...</c> per interface. Old kernels
    /// print no space after the colon (<c>eth0:12345</c>); interface names never contain ':'.
    /// </summary>
    public static void ParseDev(ReadOnlySpan<byte> text, string file, CounterSnapshot into)
    {
        var lines = new ProcNetLines(text);
        while (lines.MoveNext())
        {
            var line = lines.Current;
            if (line.Contains((byte)'|') || line.Trim((byte)' ').IsEmpty) continue;
            var colon = line.IndexOf((byte)':');
            var name = colon < 0 ? default : line[..colon].Trim((byte)' ');
            if (name.IsEmpty)
            {
                into.Problems.Add($"{file}:{lines.Number}: no 'interface:' prefix in '{ProcNetNumbers.Quote(line)}'");
                continue;
            }
            var tokens = new ProcNetTokens(line[(colon + 1)..]);
            var count = tokens.Count();
            if (count != DevColumns.Length || !lines.Complete)
            {
                into.Problems.Add($"{file}:{lines.Number}: {Encoding.UTF8.GetString(name)} has {count} columns{(lines.Complete ? "" : " and no end of line")}, expected {DevColumns.Length}; interface skipped");
                continue;
            }
            for (var i = 0; tokens.MoveNext(); i++)
            {
                if (ProcNetNumbers.TryParseDecimal(tokens.Current, out var value))
                    into.Set("Dev"u8, name, DevColumns[i], value);
                else
                    into.Problems.Add($"{file}:{lines.Number}: Dev.{Encoding.UTF8.GetString(name)}.{Encoding.ASCII.GetString(DevColumns[i])} is not a number: '{ProcNetNumbers.Quote(tokens.Current)}'");
            }
        }
    }

    public static void ParseDev(string text, string file, CounterSnapshot into) =>
        ParseDev(Encoding.UTF8.GetBytes(text), file, into);

    /// <summary>
    /// /proc/net/stat/nf_conntrack (per network namespace): a line of names, then a line of hex columns per CPU
    /// (net/netfilter/nf_conntrack_standalone.c ct_cpu_seq_show). Stores the sum over CPUs as
    /// <c>Conntrack.NAME</c> (<c>Conntrack.drop</c>, <c>Conntrack.insert_failed</c>); <c>entries</c> is the table's
    /// size, printed alike on every line, and is stored once, as a gauge.
    /// </summary>
    public static void ParseConntrackStat(ReadOnlySpan<byte> text, string file, CounterSnapshot into)
    {
        var lines = new ProcNetLines(text);
        if (!lines.MoveNext())
        {
            into.Problems.Add($"{file}: empty");
            return;
        }
        var header = lines.Current;
        var names = new ProcNetTokens(header);
        var count = names.Count();
        if (count == 0 || count > MaxConntrackColumns)
        {
            into.Problems.Add($"{file}:1: {count} column names, expected 1 to {MaxConntrackColumns}");
            return;
        }
        var entriesColumn = -1;
        for (var k = 0; names.MoveNext(); k++)
            if (names.Current.SequenceEqual("entries"u8)) entriesColumn = k;
        Span<ulong> sums = stackalloc ulong[count];
        Span<ulong> values = stackalloc ulong[count];
        sums.Clear();
        var entries = -1L;
        while (lines.MoveNext())
        {
            var tokens = new ProcNetTokens(lines.Current);
            var columns = tokens.Count();
            if (columns == 0) continue;
            if (columns != count || !lines.Complete)
            {
                into.Problems.Add($"{file}:{lines.Number}: {columns} columns{(lines.Complete ? "" : " and no end of line")}, the header names {count}; this CPU's line skipped");
                continue;
            }
            var bad = false;
            for (var k = 0; tokens.MoveNext(); k++)
                if (!ProcNetNumbers.TryParseHex(tokens.Current, out values[k])) bad = true;
            if (bad)
            {
                into.Problems.Add($"{file}:{lines.Number}: a column is not hexadecimal in '{ProcNetNumbers.Quote(lines.Current)}'; this CPU's line skipped");
                continue;
            }
            for (var k = 0; k < count; k++) sums[k] += values[k];
            if (entriesColumn >= 0) entries = (long)values[entriesColumn];
        }
        names = new ProcNetTokens(header);
        for (var k = 0; names.MoveNext(); k++)
        {
            var isEntries = names.Current.SequenceEqual("entries"u8);
            if (isEntries && entries < 0) continue;
            into.Set("Conntrack"u8, names.Current, default, isEntries ? (ulong)entries : sums[k]);
        }
    }

    private const int MaxConntrackColumns = 64;
}

/// <summary>A counting column of softnet_stat; <paramref name="PerCpuDelta"/>: worth reporting per CPU too (rare, and where it happens matters).</summary>
internal sealed record SoftnetCounter(int Column, string Name, bool PerCpuDelta)
{
    public byte[] Utf8Name { get; } = Encoding.ASCII.GetBytes(Name);

    public string SumName { get; } = "Softnet." + Name;
}
