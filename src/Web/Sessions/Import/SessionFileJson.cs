using System.Text.Json;
using System.Text.Json.Serialization;

namespace DropBoard.Web.Sessions.Import;

/// <summary>DropBoard's own session file in JSON: export writes it, import reads it back unchanged.</summary>
public static class SessionFileJson
{
    public static byte[] Write(SessionFile file) => JsonSerializer.SerializeToUtf8Bytes(file, SessionJson.Default.SessionFile);

    public static SessionFile Read(ReadOnlySpan<byte> json)
    {
        SessionFile? file;
        try
        {
            file = JsonSerializer.Deserialize(json, SessionJson.Default.SessionFile);
        }
        catch (JsonException e)
        {
            throw new ImportException($"line {(e.LineNumber ?? 0) + 1}: not a DropBoard session file ({e.Message})");
        }
        if (file is null || file.Format != SessionFile.FormatName)
            throw new ImportException($"not a DropBoard session file: \"format\" is '{file?.Format}', expected '{SessionFile.FormatName}'");
        if (file.Version != 1)
            throw new ImportException($"session file version {file.Version} is not one this DropBoard reads (1)");
        if (file.Hosts is null || file.Gaps is null || file.Hosts.Any(h => h?.Drops is null || h.Counters is null || h.Samples is null))
            throw new ImportException("session file is incomplete: hosts, gaps, and each host's drops, counters and samples must be lists");
        if (file.Hosts.SelectMany(h => h.Drops).FirstOrDefault(d => d is null || string.IsNullOrEmpty(d.Site) || d.Count <= 0) is { } bad)
            throw new ImportException($"session file has a drop bucket without a site or with a count that is not positive ({bad?.Site}: {bad?.Count})");
        return file;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(SessionFile))]
internal sealed partial class SessionJson : JsonSerializerContext;
