namespace DropBoard.Web.Sessions.Import;

/// <summary>An import file DropBoard cannot read; <see cref="Exception.Message"/> names the line and what is wrong.</summary>
public sealed class ImportException(string message) : Exception(message)
{
    public static ImportException AtLine(int line, string what) => new($"line {line}: {what}");

    /// <summary>A line as quoted in a message: at most 80 characters.</summary>
    public static string Excerpt(string line) => line.Length <= 80 ? line : line[..77] + "...";
}
