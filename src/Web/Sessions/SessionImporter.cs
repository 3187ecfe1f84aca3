using System.Text;
using DropBoard.Web.Sessions.Import;

namespace DropBoard.Web.Sessions;

/// <summary>One way in for imports, from the API and from the sessions page.</summary>
public sealed class SessionImporter(SessionStore store, TimeProvider clock)
{
    public static readonly string[] Formats = ["dropwatch", "perf-script", "dropboard"];

    /// <exception cref="ImportException">The file is not of that format; the message names the line.</exception>
    public long Import(string? format, byte[] file, string? name, string? kernel = null, string? netstatBefore = null, string? netstatAfter = null)
    {
        if (file.Length == 0) throw new ImportException("the import is empty");
        var now = clock.GetUtcNow().ToUnixTimeMilliseconds();
        var session = format switch
        {
            "dropwatch" => DropwatchImport.Parse(Encoding.UTF8.GetString(file), name ?? "dropwatch import", now, netstatBefore, netstatAfter, kernel),
            "perf-script" => PerfScriptImport.Parse(Encoding.UTF8.GetString(file), name ?? "perf script import", now, kernel),
            "dropboard" => SessionFileJson.Read(file),
            _ => throw new ImportException($"format '{format}' is not one of {string.Join(", ", Formats)}"),
        };
        return store.Import(session);
    }
}
