using System.Security.Claims;
using DropBoard.Shared.Analysis;
using DropBoard.Web.Access;
using DropBoard.Web.Views;
using DropBoard.Web.Sessions;
using DropBoard.Web.Sessions.Import;

namespace DropBoard.Web.Api;

/// <summary>Sessions for scripts and the agent CLI: start, stop, rename, delete, read, import, export, compare.</summary>
public static class SessionApi
{
    public sealed record CreateSession(string Name, IReadOnlyList<string>? Hosts);

    public sealed record RenameSession(string? Name);

    /// <summary>A view request as query parameters (<c>nonNetwork=false</c> leaves AF_UNIX, vsock and netlink frees out; <c>netns</c> is a namespace's inode).</summary>
    public sealed record ViewQuery(string? Host, string? Site, string? Reason, string? Protocol, long? From, long? To, bool? NonNetwork, uint? Netns)
    {
        public ViewRequest Request => new(Host, new DropFilter(Site, Reason, Protocol, NonNetwork ?? true, Netns?.ToString(System.Globalization.CultureInfo.InvariantCulture)), From, To);
    }

    public static IEndpointRouteBuilder MapSessionApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/sessions", (CreateSession request, SessionStore store, ClaimsPrincipal user) =>
        {
            if (string.IsNullOrWhiteSpace(request?.Name)) return Results.BadRequest(new { error = "a session needs a name" });
            if (user.IsAgent() && request.Hosts is not { Count: 1 })
                return Results.Json(new { error = "an agent may record only its own host: name exactly one host" }, statusCode: StatusCodes.Status403Forbidden);
            long id;
            try
            {
                id = store.Create(request.Name.Trim(), request.Hosts);
            }
            catch (SessionLimitException e)
            {
                return Results.BadRequest(new { error = e.Message });
            }
            return Results.Created($"/api/sessions/{id}", new { id });
        }).RequireAuthorization(AccessClaims.RecorderPolicy);
        app.MapPost("/api/sessions/{id:long}/stop", (long id, SessionStore store) =>
            store.Stop(id) ? Results.Ok(new { id, state = SessionStates.Stopped }) : NotRecording(id)).RequireAuthorization(AccessClaims.RecorderPolicy);
        app.MapPatch("/api/sessions/{id:long}", (long id, RenameSession? request, SessionStore store) =>
        {
            var name = request?.Name?.Trim() ?? "";
            try
            {
                return store.Rename(id, name) ? Results.Ok(new { id, name }) : NoSession(id);
            }
            catch (SessionLimitException e)
            {
                return Results.BadRequest(new { error = $"name: {e.Message}" });
            }
        }).RequireAuthorization(AccessClaims.EditorPolicy);
        app.MapDelete("/api/sessions/{id:long}", (long id, SessionStore store) => store.Delete(id) switch
        {
            SessionDeletion.Deleted => Results.NoContent(),
            SessionDeletion.Recording => Results.Conflict(new { error = $"session {id} is recording: stop it first (POST /api/sessions/{id}/stop), then delete it" }),
            _ => NoSession(id),
        }).RequireAuthorization(AccessClaims.EditorPolicy);
        app.MapGet("/api/sessions", (SessionQueries queries, string? search, string? sort) => queries.List(search, sort ?? "newest"));
        app.MapGet("/api/sessions/{id:long}", (long id, SessionQueries queries) =>
            queries.Get(id) is { } session ? Results.Ok(session) : NoSession(id));
        // One view request for every panel: ?host=&site=&reason=&protocol=&nonNetwork=&netns=&from=&to= narrow sites, counters and Explain alike.
        app.MapGet("/api/sessions/{id:long}/sites", (long id, SessionQueries queries, [AsParameters] ViewQuery view) =>
            queries.Get(id) is null ? NoSession(id) : Results.Ok(queries.Sites(id, view.Request)));
        app.MapGet("/api/sessions/{id:long}/counters", (long id, SessionQueries queries, [AsParameters] ViewQuery view) =>
            queries.Get(id) is null ? NoSession(id) : Results.Ok(CounterRise.Of(queries.Counters(id, view.Request), queries.CounterTexts(id, view.Request))));
        app.MapGet("/api/sessions/{id:long}/explain", (long id, SessionQueries queries, [AsParameters] ViewQuery view) =>
            SessionView.Build(queries, id, view.Request) is { } built ? Results.Ok(built.Explanation) : NoSession(id));
        app.MapGet("/api/sessions/{id:long}/export", (long id, SessionQueries queries, string? format) =>
        {
            if (queries.Export(id) is not { } file) return NoSession(id);
            return (format ?? "json") switch
            {
                "json" => Results.File(SessionFileJson.Write(file), "application/json", $"dropboard-session-{id}.json"),
                "csv" => Results.Text(SessionCsv.Write(file), "text/csv"),
                var other => Results.BadRequest(new { error = $"export format '{other}' is not json or csv" }),
            };
        });
        // Antiforgery for browsers is BrowserRequestGuard's (it also covers raw bodies, which form-binding checks miss).
        app.MapPost("/api/import", ImportAsync).DisableAntiforgery().RequireAuthorization(AccessClaims.EditorPolicy);
        app.MapGet("/api/compare", (long a, long b, SessionQueries queries) =>
        {
            try
            {
                return Results.Ok(SessionCompare.Run(queries, a, b));
            }
            catch (CompareException e)
            {
                return e.Missing ? Results.NotFound(new { error = e.Message }) : Results.BadRequest(new { error = e.Message });
            }
        });
        return app;
    }

    /// <summary>
    /// The body is the file (<c>format=dropwatch|perf-script|dropboard</c>). For dropwatch, a multipart form
    /// may carry <c>file</c>, <c>netstatBefore</c> and <c>netstatAfter</c> (the <c>netstat -su</c> texts), and
    /// <c>duration</c> (seconds) says how long the capture ran, as dropwatch does not.
    /// </summary>
    private static async Task<IResult> ImportAsync(HttpRequest request, SessionImporter importer, string? format, string? name, string? kernel, string? duration,
        CancellationToken cancellationToken)
    {
        try
        {
            double? seconds = duration is null ? null
                : double.TryParse(duration, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) ? d
                : throw new ImportException($"duration: '{ImportException.Excerpt(duration)}' is not a number of seconds");
            var upload = await ImportUpload.ReadAsync(request, cancellationToken);
            var id = importer.Import(format, upload.File, name ?? upload.FileName, kernel, upload.NetstatBefore, upload.NetstatAfter, seconds);
            return Results.Created($"/api/sessions/{id}", new { sessionId = id });
        }
        catch (ImportException e)
        {
            return Results.Json(new { error = $"{ImportException.Excerpt(format ?? "")} import: {e.Message}" },
                statusCode: e.TooLarge ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest);
        }
    }

    private static IResult NoSession(long id) => Results.NotFound(new { error = $"no session {id}; see /api/sessions" });

    private static IResult NotRecording(long id) => Results.Conflict(new { error = $"session {id} does not exist or is not recording" });
}
