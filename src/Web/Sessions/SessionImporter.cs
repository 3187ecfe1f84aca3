using DropBoard.Web.Sessions.Import;

namespace DropBoard.Web.Sessions;

/// <summary>
/// One way in for imports, from the API and from the sessions page. A file is read and checked whole, within
/// <see cref="ImportLimits"/>, before the store writes any of it (in one transaction).
/// </summary>
public sealed class SessionImporter(SessionStore store, TimeProvider clock)
{
    public static readonly string[] Formats = ["dropwatch", "perf-script", "dropboard"];

    /// <param name="durationSeconds">How long a capture without timestamps ran (dropwatch), for rates; other formats carry their own times.</param>
    /// <exception cref="ImportException">The file is not of that format, or holds what no capture does; the message names the line.</exception>
    public long Import(string? format, byte[] file, string? name, string? kernel = null, string? netstatBefore = null, string? netstatAfter = null,
        double? durationSeconds = null)
    {
        if (file.Length == 0) throw new ImportException("the import is empty");
        if (file.Length > ImportLimits.MaxFileBytes) throw ImportException.Oversized("the file", ImportLimits.MaxFileBytes);
        if (durationSeconds is not null && format != "dropwatch")
            throw new ImportException($"duration: only a capture without timestamps (dropwatch) takes one; a {ImportException.Excerpt(format ?? "")} file has its own times");
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var session = format switch
        {
            "dropwatch" => DropwatchImport.Parse(ImportText.Decode(file), Name(name) ?? "dropwatch import", now, netstatBefore, netstatAfter, Kernel(kernel),
                DurationMs(durationSeconds)),
            "perf-script" => PerfScriptImport.Parse(ImportText.Decode(file), Name(name) ?? "perf script import", now, Kernel(kernel)),
            // The export carries its own name and kernels.
            "dropboard" => SessionFileJson.Read(file, now),
            _ => throw new ImportException($"format '{ImportException.Excerpt(format ?? "")}' is not one of {string.Join(", ", Formats)}"),
        };
        return store.Import(session);
    }

    // The rule for every session's name, so an imported session can be exported and imported again.
    private static string? Name(string? name) =>
        name is not null && SessionLimits.NameProblem(name) is { } problem ? throw new ImportException($"name: {problem}") : name;

    private static long? DurationMs(double? seconds) =>
        seconds is null ? null
        : seconds is >= 0.001 and <= ImportLimits.MaxSpanMs / 1000.0 ? (long)Math.Round(seconds.Value * 1000)
        : throw new ImportException($"duration: {seconds} is not a number of seconds from 0.001 to {ImportLimits.MaxSpanMs / 1000:N0} (366 days)");

    private static string? Kernel(string? kernel) =>
        kernel is not null && ImportText.Problem(kernel, ImportLimits.MaxLabel) is { } problem ? throw new ImportException($"kernel: {problem}") : kernel;
}
