using System.Globalization;
using System.Text;

namespace DropBoard.Agent.Counters;

/// <summary>Walks the lines of a /proc/net file held as UTF-8 bytes, without copying them.</summary>
internal ref struct ProcNetLines(ReadOnlySpan<byte> text)
{
    private ReadOnlySpan<byte> _rest = text;

    public ReadOnlySpan<byte> Current { get; private set; }

    /// <summary>1-based, for problem messages.</summary>
    public int Number { get; private set; }

    /// <summary>
    /// False for a last line without its newline: the kernel ends every line with one, so such a line was
    /// cut short (a truncated copy) and its last number may be missing digits.
    /// </summary>
    public bool Complete { get; private set; }

    public bool MoveNext()
    {
        if (_rest.IsEmpty) return false;
        Number++;
        var end = _rest.IndexOf((byte)'\n');
        Complete = end >= 0;
        if (!Complete) end = _rest.Length;
        Current = _rest[..end];
        _rest = Complete ? _rest[(end + 1)..] : default;
        return true;
    }
}

/// <summary>The space- or tab-separated words of one line.</summary>
internal ref struct ProcNetTokens(ReadOnlySpan<byte> line)
{
    private ReadOnlySpan<byte> _rest = line;

    public ReadOnlySpan<byte> Current { get; private set; }

    public bool MoveNext()
    {
        var start = _rest.IndexOfAnyExcept((byte)' ', (byte)'\t');
        if (start < 0)
        {
            _rest = default;
            return false;
        }
        _rest = _rest[start..];
        var end = _rest.IndexOfAny((byte)' ', (byte)'\t');
        if (end < 0) end = _rest.Length;
        Current = _rest[..end];
        _rest = _rest[end..];
        return true;
    }

    public int Count()
    {
        var copy = this;
        var n = 0;
        while (copy.MoveNext()) n++;
        return n;
    }
}

internal static class ProcNetNumbers
{
    /// <summary>
    /// Counters are unsigned 64-bit; a few snmp fields are signed constants (Tcp MaxConn -1). They never
    /// change, so storing their two's complement keeps them out of the deltas without a special case.
    /// </summary>
    public static bool TryParseDecimal(ReadOnlySpan<byte> text, out ulong value)
    {
        if (ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value)) return true;
        if (text is [(byte)'-', ..] && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var signed))
        {
            value = unchecked((ulong)signed);
            return true;
        }
        return false;
    }

    public static bool TryParseHex(ReadOnlySpan<byte> text, out ulong value) =>
        ulong.TryParse(text, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);

    /// <summary>A slice of a bad line for a problem message: short, and readable whatever the bytes were.</summary>
    public static string Quote(ReadOnlySpan<byte> text) =>
        text.Length <= 60 ? Encoding.UTF8.GetString(text) : Encoding.UTF8.GetString(text[..60]) + "…";
}
