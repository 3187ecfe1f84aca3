using System.Globalization;
using System.Text.RegularExpressions;

namespace DropBoard.Agent.Capture.Tracepoint;

/// <summary>One field of a tracepoint record as the tracefs format file describes it.</summary>
public readonly record struct TracepointField(string Name, string Type, int Offset, int Size, bool Signed);

/// <summary>
/// The layout of a tracepoint's raw record, read from <c>events/&lt;system&gt;/&lt;event&gt;/format</c>.
/// Offsets moved between kernels (<c>reason</c> since 5.17, <c>rx_sk</c> since 6.11), so they are
/// always read from the running kernel, never assumed. Reason names come from the
/// <c>__print_symbolic(REC->reason, ...)</c> list because their numbers differ between kernels.
/// </summary>
public sealed partial class TracepointFormat
{
    public string Name { get; }
    public int Id { get; }
    public IReadOnlyDictionary<string, TracepointField> Fields { get; }
    /// <summary>Kernel enum value to drop-reason name; empty when the kernel has no reasons.</summary>
    public IReadOnlyDictionary<int, string> ReasonNames { get; }

    private TracepointFormat(string name, int id, Dictionary<string, TracepointField> fields, Dictionary<int, string> reasons)
    {
        Name = name;
        Id = id;
        Fields = fields;
        ReasonNames = reasons;
    }

    public TracepointField? Field(string name) => Fields.TryGetValue(name, out var f) ? f : null;

    /// <summary>The named field, which the caller cannot do without: a format lacking it is an unknown format.</summary>
    public TracepointField RequireField(string name, params int[] sizes)
    {
        if (!Fields.TryGetValue(name, out var f))
            throw new FormatException($"tracepoint {Name}: format has no field '{name}' (fields: {string.Join(", ", Fields.Keys)})");
        if (sizes.Length > 0 && Array.IndexOf(sizes, f.Size) < 0)
            throw new FormatException($"tracepoint {Name}: field '{name}' has size {f.Size}, expected {string.Join(" or ", sizes)}");
        return f;
    }

    /// <summary>Bytes a raw record needs to hold every field.</summary>
    public int MinimumRecordSize => Fields.Values.Max(f => f.Offset + f.Size);

    public static TracepointFormat Parse(string text)
    {
        string? name = null;
        int? id = null;
        var fields = new Dictionary<string, TracepointField>();
        var reasons = new Dictionary<int, string>();
        var lineNumber = 0;
        foreach (var rawLine in text.Split('\n'))
        {
            lineNumber++;
            var line = rawLine.Trim();
            if (line.StartsWith("name:", StringComparison.Ordinal))
                name = line[5..].Trim();
            else if (line.StartsWith("ID:", StringComparison.Ordinal))
                id = int.TryParse(line[3..].Trim(), CultureInfo.InvariantCulture, out var v) ? v
                    : throw new FormatException($"tracepoint format line {lineNumber}: bad ID '{line}'");
            else if (line.StartsWith("field:", StringComparison.Ordinal))
            {
                var field = ParseField(line, lineNumber);
                fields[field.Name] = field;
            }
            else if (line.StartsWith("print fmt:", StringComparison.Ordinal))
            {
                foreach (Match m in ReasonSymbol().Matches(line))
                    reasons[int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)] = m.Groups[2].Value;
            }
        }

        if (name is null) throw new FormatException("tracepoint format has no 'name:' line");
        if (fields.Count == 0) throw new FormatException($"tracepoint format {name} has no fields");
        return new TracepointFormat(name, id ?? -1, fields, reasons);
    }

    // "field:unsigned short protocol;	offset:32;	size:2;	signed:0;"
    private static TracepointField ParseField(string line, int lineNumber)
    {
        var m = FieldLine().Match(line);
        if (!m.Success)
            throw new FormatException($"tracepoint format line {lineNumber}: cannot read field '{line}'");
        var declaration = m.Groups["decl"].Value.Trim();
        // The name is the last identifier of the declaration; arrays ("char comm[16]") keep their brackets out.
        var bracket = declaration.IndexOf('[');
        var declNoArray = bracket >= 0 ? declaration[..bracket] : declaration;
        var lastSpace = declNoArray.LastIndexOfAny([' ', '*']);
        var fieldName = declNoArray[(lastSpace + 1)..];
        var type = declNoArray[..(lastSpace + 1)].Trim();
        return new TracepointField(
            fieldName,
            type,
            int.Parse(m.Groups["offset"].Value, CultureInfo.InvariantCulture),
            int.Parse(m.Groups["size"].Value, CultureInfo.InvariantCulture),
            m.Groups["signed"].Value == "1");
    }

    [GeneratedRegex(@"^field:(?<decl>[^;]+);\s*offset:(?<offset>\d+);\s*size:(?<size>\d+);\s*signed:(?<signed>[01]);")]
    private static partial Regex FieldLine();

    [GeneratedRegex(@"\{\s*(\d+)\s*,\s*""([A-Z0-9_]+)""\s*\}")]
    private static partial Regex ReasonSymbol();
}
