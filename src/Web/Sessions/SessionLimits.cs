namespace DropBoard.Web.Sessions;

/// <summary>A session cannot be started as asked; the message says why.</summary>
public sealed class SessionLimitException(string message) : Exception(message);

/// <summary>
/// Bounds on what users start: every recording session costs a write per batch per host, so there is a cap
/// (<c>DropBoard:MaxRecordingSessions</c>), and names are short, printable text.
/// </summary>
public sealed record SessionLimits(int MaxRecording = 20)
{
    public const int MaxNameLength = 200;

    /// <summary>Why a session or investigation name is unusable, or null.</summary>
    public static string? NameProblem(string name)
    {
        if (string.IsNullOrWhiteSpace(name)) return "a name is required";
        if (name.Length > MaxNameLength) return $"a name has at most {MaxNameLength} characters (this one has {name.Length})";
        return name.Any(char.IsControl) ? "a name has no control characters (line breaks, tabs, escapes)" : null;
    }
}
