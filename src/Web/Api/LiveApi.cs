using DropBoard.Shared.Analysis;
using DropBoard.Web.Live;

using DropBoard.Web.Views;

namespace DropBoard.Web.Api;

/// <summary>JSON for scripts and tests: hosts, live sites, counters and the explanation of a window.</summary>
public static class LiveApi
{
    /// <summary>One live view as query parameters: a host, a window, and the drops every panel shows.</summary>
    /// <param name="Netns">A network namespace's inode: taken as a number, so the filter holds digits only.</param>
    public sealed record LiveQuery(string Host, int? Seconds, string? Site, string? Reason, string? Protocol, bool? NonNetwork, uint? Netns)
    {
        public DropFilter Filter => new(Site, Reason, Protocol, NonNetwork ?? true, Netns?.ToString(System.Globalization.CultureInfo.InvariantCulture));

        public TimeSpan Window => TimeSpan.FromSeconds(Math.Clamp(Seconds ?? 60, 1, (int)LiveStore.Keep.TotalSeconds));
    }

    public static IEndpointRouteBuilder MapLiveApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/hosts", (LiveStore store) => store.Hosts());
        app.MapGet("/api/live/sites", (LiveStore store, [AsParameters] LiveQuery view) =>
            Known(store, view.Host) ? Results.Ok(store.Sites(view.Host, view.Window, view.Filter)) : UnknownHost(view.Host));
        app.MapGet("/api/live/counters", (LiveStore store, [AsParameters] LiveQuery view) =>
            Known(store, view.Host) ? Results.Ok(CounterRise.Of(store.Counters(view.Host, view.Window).Where(c => view.Filter.MatchesNetns(c.Netns)), store.CounterTexts(view.Host))) : UnknownHost(view.Host));
        app.MapGet("/api/live/explain", (LiveStore store, [AsParameters] LiveQuery view) =>
        {
            if (store.Hello(view.Host) is not { } hello) return UnknownHost(view.Host);
            var input = store.ExplainInput(view.Host, view.Window);
            return Results.Ok(ViewExplanation.Explain(input.Drops, input.Counters, view.Filter, hello.KernelRelease, input.BucketMs, input.Span));
        });
        return app;
    }

    private static bool Known(LiveStore store, string host) => store.Hello(host) is not null;

    private static IResult UnknownHost(string host) =>
        Results.NotFound(new { error = $"no host '{host}' has sent anything in the last {LiveStore.Keep.TotalMinutes} minutes; see /api/hosts" });
}
