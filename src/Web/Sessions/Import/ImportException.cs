namespace DropBoard.Web.Sessions.Import;

/// <summary>An import file DropBoard cannot read; <see cref="Exception.Message"/> names the line and what is wrong.</summary>
/// <param name="tooLarge">Refused for its size alone, before it was read to the end (HTTP 413).</param>
public sealed class ImportException(string message, bool tooLarge = false) : Exception(message)
{
    public bool TooLarge { get; } = tooLarge;

    /// <param name="part">Which text, when it is not the file itself ("netstat before").</param>
    public static ImportException AtLine(int line, string what, string? part = null) =>
        new(part is null ? $"line {line}: {what}" : $"{part}, line {line}: {what}");

    public static ImportException Oversized(string part, long limit) =>
        new($"{part} is larger than {limit >> 20} MiB, the most an import takes", tooLarge: true);

    /// <summary>A line or value as quoted in a message: at most 80 characters, control characters shown as '?'.</summary>
    public static string Excerpt(string line) =>
        string.Create(Math.Min(line.Length, 80), line, static (span, s) =>
        {
            for (var i = 0; i < span.Length; i++) span[i] = char.IsControl(s[i]) ? '?' : s[i];
            if (s.Length > span.Length) span[^3..].Fill('.');
        });
}
