namespace DropBoard.Web.Access;

/// <summary>
/// Headers that make the browser refuse what the pages never do: run inline or evaluated script (so markup that
/// slipped through as a name could not act), load from other origins, be framed, or leak an investigation's
/// link in a Referer.
/// </summary>
public static class SecurityHeaders
{
    /// <remarks>
    /// Styles stay inline-capable: ApexCharts adds a style element and style attributes, and Blazor sets styles too.
    /// connect-src 'self' covers the circuit's WebSocket (same host and port, ws: for http:, wss: for https:).
    /// </remarks>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
        + "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'";

    /// <summary>
    /// Set when the response starts rather than now, so they survive the exception handler clearing the response
    /// and cover re-executed error pages.
    /// </summary>
    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            context.Response.OnStarting(static state =>
            {
                var headers = ((HttpResponse)state).Headers;
                headers.ContentSecurityPolicy = ContentSecurityPolicy;
                headers.XContentTypeOptions = "nosniff";
                headers.XFrameOptions = "DENY";
                headers["Referrer-Policy"] = "no-referrer";
                return Task.CompletedTask;
            }, context.Response);
            return next(context);
        });
}
