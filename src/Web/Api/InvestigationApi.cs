using DropBoard.Web.Access;
using DropBoard.Web.Investigations;
using DropBoard.Web.Sessions;

namespace DropBoard.Web.Api;

/// <summary>Permalinked investigations: create, read, edit (each edit keeps the previous version).</summary>
public static class InvestigationApi
{
    public static IEndpointRouteBuilder MapInvestigationApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/investigations", (InvestigationBody body, InvestigationStore store, SessionQueries sessions, HttpRequest request) =>
        {
            if (Problem(body, sessions) is { } problem) return Results.BadRequest(new { error = problem });
            var slug = store.Create(body);
            return Results.Created($"/api/investigations/{slug}", new { slug, url = $"{request.Scheme}://{request.Host}/i/{slug}" });
        }).RequireAuthorization(AccessClaims.EditorPolicy);
        app.MapGet("/api/investigations", (InvestigationStore store, long? session) => store.List(session));
        app.MapGet("/api/investigations/{slug}", (string slug, InvestigationStore store) =>
            store.Get(slug) is { } investigation ? Results.Ok(investigation) : Results.NotFound(new { error = $"no investigation '{slug}'" }));
        app.MapPut("/api/investigations/{slug}", (string slug, InvestigationBody body, InvestigationStore store, SessionQueries sessions) =>
        {
            // Sessions it already names may have been deleted since: editing its notes must not need them back.
            var named = store.Get(slug)?.Body.Sessions ?? [];
            if (Problem(body, sessions, named) is { } problem) return Results.BadRequest(new { error = problem });
            return store.Update(slug, body) is { } version ? Results.Ok(new { slug, version }) : Results.NotFound(new { error = $"no investigation '{slug}'" });
        }).RequireAuthorization(AccessClaims.EditorPolicy);
        return app;
    }

    private const int MaxNotesLength = 100_000;

    private static string? Problem(InvestigationBody? body, SessionQueries sessions, IReadOnlyCollection<long>? named = null)
    {
        if (body is null || string.IsNullOrWhiteSpace(body.Title)) return "an investigation needs a title";
        if (SessionLimits.NameProblem(body.Title) is { } title) return $"title: {title}";
        if (body.Notes?.Length > MaxNotesLength) return $"notes have at most {MaxNotesLength} characters";
        if (body.Sessions?.Count > 20 || body.Pinned?.Count > 100) return "an investigation has at most 20 sessions and 100 pinned sites";
        if (body.Sessions is not { Count: > 0 }) return "an investigation needs at least one session";
        if (body.Sessions.FirstOrDefault(id => named?.Contains(id) != true && sessions.Get(id) is null) is var missing and > 0) return $"session {missing} does not exist";
        if (body.Window is { } w && w.ToMs <= w.FromMs) return "the window ends before it starts";
        return null;
    }
}
