using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Dapper;
using DropBoard.Web.Sessions;

namespace DropBoard.Web.Investigations;

/// <summary>
/// Investigations under unguessable permanent slugs (128 random bits). Every save keeps the version it
/// replaces, so an edit never loses what a teammate saw.
/// </summary>
public sealed class InvestigationStore(SessionDatabase database, TimeProvider clock)
{
    private long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    public static string NewSlug() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public string Create(InvestigationBody body)
    {
        var slug = NewSlug();
        using var connection = database.Connect();
        connection.Execute("INSERT INTO investigations VALUES (@slug, @Title, @now, @now, 1, @body)",
            new { slug, body.Title, now = Now, body = JsonSerializer.Serialize(body, InvestigationJson.Default.InvestigationBody) });
        return slug;
    }

    /// <returns>The new version, or null when there is no such investigation.</returns>
    public int? Update(string slug, InvestigationBody body)
    {
        using var connection = database.Connect();
        using var transaction = connection.BeginTransaction();
        var c = connection.QueryFirstOrDefault<(long Version, long UpdatedMs, string? Body)>(
            "SELECT version, updated_ms, body FROM investigations WHERE slug = @slug", new { slug }, transaction);
        if (c.Body is null) return null;
        connection.Execute("INSERT INTO investigation_history VALUES (@slug, @Version, @UpdatedMs, @Body)", new { slug, c.Version, c.UpdatedMs, c.Body }, transaction);
        connection.Execute("UPDATE investigations SET title = @Title, updated_ms = @now, version = version + 1, body = @body WHERE slug = @slug",
            new { slug, body.Title, now = Now, body = JsonSerializer.Serialize(body, InvestigationJson.Default.InvestigationBody) }, transaction);
        transaction.Commit();
        return (int)c.Version + 1;
    }

    public Investigation? Get(string slug)
    {
        using var connection = database.Connect();
        var r = connection.QueryFirstOrDefault<(string? Slug, long Version, long CreatedMs, long UpdatedMs, string Body)>(
            "SELECT slug, version, created_ms, updated_ms, body FROM investigations WHERE slug = @slug", new { slug });
        if (r.Slug is null) return null;
        var history = connection.Query<(long Version, long SavedMs, string Body)>(
                "SELECT version, saved_ms, body FROM investigation_history WHERE slug = @slug ORDER BY version DESC", new { slug })
            .Select(h => new InvestigationVersion((int)h.Version, h.SavedMs, Read(h.Body)))
            .ToList();
        return new Investigation(r.Slug, (int)r.Version, r.CreatedMs, r.UpdatedMs, Read(r.Body), history);
    }

    /// <summary>Every investigation, last saved first; of one session only when <paramref name="session"/> is given.</summary>
    public IReadOnlyList<InvestigationSummary> List(long? session = null)
    {
        using var connection = database.Connect();
        return connection.Query<(string Slug, string Title, long Version, long CreatedMs, long UpdatedMs, string Body)>(
                "SELECT slug, title, version, created_ms, updated_ms, body FROM investigations ORDER BY updated_ms DESC, slug")
            .Select(r => new InvestigationSummary(r.Slug, r.Title, (int)r.Version, r.CreatedMs, r.UpdatedMs, Read(r.Body).Sessions))
            .Where(i => session is not { } id || i.Sessions.Contains(id))
            .ToList();
    }

    private static InvestigationBody Read(string json) => JsonSerializer.Deserialize(json, InvestigationJson.Default.InvestigationBody)!;
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(InvestigationBody))]
internal sealed partial class InvestigationJson : JsonSerializerContext;
