using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Unicode;
using static DropBoard.Web.Sessions.Import.ImportLimits;

namespace DropBoard.Web.Sessions.Import;

/// <summary>
/// The text of an import: UTF-8 (binary is refused at the line it starts on), lines bounded in number and length,
/// and names people chose (session, host) with nothing that moves, hides or breaks lines.
/// </summary>
public static class ImportText
{
    // C0 but the tab, DEL and C1: what terminals act on instead of showing.
    private static readonly SearchValues<char> ControlChars = SearchValues.Create(
        string.Concat(Enumerable.Range(0, 0x20).Where(c => c != '\t').Concat(Enumerable.Range(0x7f, 0x21)).Select(c => (char)c)));

    /// <param name="part">Which text, when it is not the file itself ("netstat before").</param>
    public static string Decode(ReadOnlySpan<byte> bytes, string? part = null)
    {
        // Editors on Windows start UTF-8 files with a byte order mark; the capture tools never print one.
        if (bytes.StartsWith("\uFEFF"u8)) bytes = bytes[3..];
        if (Utf8.IsValid(bytes)) return Encoding.UTF8.GetString(bytes);
        var at = 0;
        while (Rune.DecodeFromUtf8(bytes[at..], out _, out var used) == OperationStatus.Done) at += used;
        throw ImportException.AtLine(bytes[..at].Count((byte)'\n') + 1, $"byte 0x{bytes[at]:X2} is not UTF-8 text (binary data?)", part);
    }

    /// <summary>
    /// The lines of <paramref name="text"/> with their 1-based numbers and without their '\r'. A line with a
    /// control character, a line too long or one line too many is refused: no capture tool prints them.
    /// </summary>
    public static IEnumerable<(int Number, string Text)> Lines(string text, string? part = null)
    {
        var number = 0;
        for (var start = 0; start <= text.Length;)
        {
            var end = text.IndexOf('\n', start);
            if (end < 0) end = text.Length;
            if (++number > MaxLines) throw ImportException.AtLine(number, $"more than {MaxLines} lines", part);
            var length = end - start - (end > start && text[end - 1] == '\r' ? 1 : 0);
            if (length > MaxLineLength)
                throw ImportException.AtLine(number, $"{length} characters, more than the {MaxLineLength} a line may have", part);
            var line = text.Substring(start, length);
            if (line.AsSpan().IndexOfAny(ControlChars) is var c and >= 0)
                throw ImportException.AtLine(number, $"control character U+{(int)line[c]:X4} in column {c + 1}: binary data, not text", part);
            yield return (number, line);
            start = end + 1;
        }
    }

    /// <summary>What is wrong with text people chose (a host name, a kernel release), said after its field, or null.</summary>
    /// <param name="lines">Notes may have lines and tabs.</param>
    public static string? Problem(string? text, int max, bool lines = false)
    {
        if (text is null) return "is missing";
        if (text.Length > max) return $"is {text.Length} characters long, at most {max} are taken";
        for (var i = 0; i < text.Length;)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out var used) != OperationStatus.Done)
                return $"'{ImportException.Excerpt(text)}' is not valid Unicode";
            if (!(lines && rune.Value is '\n' or '\r' or '\t')
                && Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format or UnicodeCategory.LineSeparator
                    or UnicodeCategory.ParagraphSeparator or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned)
                return $"'{ImportException.Excerpt(text)}' has the unprintable character U+{rune.Value:X4} at {i}";
            i += used;
        }
        return null;
    }
}
