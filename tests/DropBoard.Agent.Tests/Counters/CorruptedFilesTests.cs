using System.Text.RegularExpressions;
using DropBoard.Agent.Counters;

namespace DropBoard.Agent.Tests.Counters;

/// <summary>
/// Every single-byte corruption of the real files, at every position: the parsers never throw, and every
/// record (a group's two lines, or one line) the corruption did not touch keeps all its counters.
/// </summary>
public class CorruptedFilesTests
{
    private static readonly byte[] Nasty = "x \n-:\t9"u8.ToArray().Append((byte)0xFF).ToArray();

    public static TheoryData<string, int> Files() => new()
    {
        { "snmp-6.18.txt", 2 },
        { "netstat-6.18.txt", 2 },
        { "snmp6-6.18.txt", 1 },
        { "softnet_stat-6.18.txt", 1 },
        { "dev-6.18.txt", 1 },
    };

    private static CounterSampler.Parser ParserFor(string fixture) =>
        CounterSampler.Files.Single(f => fixture.StartsWith(f.Name + "-")).Parse;

    [Theory]
    [MemberData(nameof(Files))]
    public void A_corrupted_byte_costs_only_the_record_it_is_in(string fixture, int linesPerRecord)
    {
        var parse = ParserFor(fixture);
        var clean = Fixture.Bytes("counters", fixture);
        var lineStarts = new List<int> { 0 };
        for (var i = 0; i < clean.Length - 1; i++)
            if (clean[i] == '\n') lineStarts.Add(i + 1);
        var records = lineStarts.Chunk(linesPerRecord)
            .Select(r => (Start: r[0], End: r[^1] == lineStarts[^1] ? clean.Length : lineStarts[lineStarts.IndexOf(r[^1]) + 1]))
            .Select(r => (r.Start, r.End, Values: ParseAlone(parse, clean[r.Start..r.End])))
            .ToList();
        var mutated = (byte[])clean.Clone();
        var checkedRecords = 0;

        for (var at = 0; at < clean.Length; at++)
        {
            foreach (var b in Nasty)
            {
                if (clean[at] == b) continue;
                mutated[at] = b;
                var s = new CounterSnapshot();
                parse(mutated, fixture, s);
                // The byte's own record is touched, and so is the next one when a newline is what changed.
                foreach (var record in records.Where(r => at < r.Start - 1 || at >= r.End))
                {
                    foreach (var (name, value) in record.Values)
                        Assert.True(s.Values.TryGetValue(name, out var got) && got == value,
                            $"{fixture}: byte {at} set to 0x{b:x2} lost {name}={value} (got {got}); problems: {string.Join(" | ", s.Problems)}");
                    checkedRecords++;
                }
            }
            mutated[at] = clean[at];
        }
        Assert.True(checkedRecords > clean.Length);
    }

    private static Dictionary<string, ulong> ParseAlone(CounterSampler.Parser parse, byte[] record)
    {
        var s = new CounterSnapshot();
        parse(record, "record", s);
        Assert.Empty(s.Problems);
        // Softnet sums change with any CPU's line; the per-CPU values are the records' own.
        return s.Values.Where(v => !v.Key.StartsWith("Softnet.") || Regex.IsMatch(v.Key, @"^Softnet\.cpu\d+\.")).ToDictionary();
    }
}
