using System.Text.Json;
using System.Text.Json.Serialization;

namespace DropBoard.Web.Sessions.Import;

/// <summary>DropBoard's own session file in JSON: export writes it, import reads it back unchanged.</summary>
public static class SessionFileJson
{
    public static byte[] Write(SessionFile file) => JsonSerializer.SerializeToUtf8Bytes(file, SessionJson.Default.SessionFile);

    /// <param name="nowMs">The import's time: a session exported while recording has no stop, and ends by then.</param>
    public static SessionFile Read(ReadOnlySpan<byte> json, long nowMs)
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
        if (file is null) throw new ImportException("not a DropBoard session file: the JSON is null");
        SessionFileCheck.Check(file, nowMs);
        return file;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = false)]
[JsonSerializable(typeof(SessionFile))]
internal sealed partial class SessionJson : JsonSerializerContext;
