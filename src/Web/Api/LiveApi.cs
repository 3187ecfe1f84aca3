using DropBoard.Shared.Analysis;
using DropBoard.Web.Live;

using DropBoard.Web.Views;

namespace DropBoard.Web.Api;

/// <summary>JSON for scripts and tests: hosts, live sites, counters and the explanation of a window.</summary>
public static class LiveApi
{
    public static IEndpointRouteBuilder MapLiveApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/hosts", (LiveStore store) => store.Hosts());
        app.MapGet("/api/live/sites", (LiveStore store, string host, int? seconds, string? site, string? reason, string? protocol, uint? netns) =>
            Known(store, host) ? Results.Ok(store.Sites(host, Window(seconds), Filter(site, reason, protocol, netns))) : UnknownHost(host));
        app.MapGet("/api/live/counters", (LiveStore store, string host, int? seconds) =>
            Known(store, host) ? Results.Ok(CounterRise.Of(store.Counters(host, Window(seconds)), store.CounterTexts(host))) : UnknownHost(host));
        app.MapGet("/api/live/explain", (LiveStore store, string host, int? seconds, string? site, string? reason, string? protocol, uint? netns) =>
        {
            if (store.Hello(host) is not { } hello) return UnknownHost(host);
            var input = store.ExplainInput(host, Window(seconds));
            return Results.Ok(ViewExplanation.Explain(input.Drops, input.Counters, Filter(site, reason, protocol, netns), hello.KernelRelease, input.BucketMs, input.Span));
        });
        return app;
    }

    // The namespace is taken as a number, so the filter holds digits only.
    private static DropFilter Filter(string? site, string? reason, string? protocol, uint? netns) =>
        new(site, reason, protocol, netns?.ToString(System.Globalization.CultureInfo.InvariantCulture));

    private static bool Known(LiveStore store, string host) => store.Hello(host) is not null;

    private static IResult UnknownHost(string host) =>
        Results.NotFound(new { error = $"no host '{host}' has sent anything in the last {LiveStore.Keep.TotalMinutes} minutes; see /api/hosts" });

    private static TimeSpan Window(int? seconds) =>
        TimeSpan.FromSeconds(Math.Clamp(seconds ?? 60, 1, (int)LiveStore.Keep.TotalSeconds));
}
