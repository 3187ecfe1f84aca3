using Microsoft.AspNetCore.Antiforgery;

namespace DropBoard.Web.Access;

/// <summary>
/// Cross-site request forgery: a write to the JSON API must carry a bearer token (which a foreign page cannot
/// make a browser send) or, when it comes from a browser at all, the antiforgery token. Browsers mark their
/// requests (<c>Origin</c>, <c>Sec-Fetch-Site</c>); scripts and agents without a bearer token only get this far
/// in the open loopback mode, where they are the local user at the terminal.
/// </summary>
public sealed class BrowserRequestGuard(RequestDelegate next, IAntiforgery antiforgery, ILogger<BrowserRequestGuard> logger)
{
    public static bool IsApiWrite(HttpRequest request) =>
        request.Path.StartsWithSegments("/api") && !(HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method));

    public async Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (IsApiWrite(request) && BearerTokenHandler.Presented(request) is null && FromBrowser(request)
            && !await antiforgery.IsRequestValidAsync(context))
        {
            logger.LogWarning("Refused {Method} {Path} from {Remote} for {Who}: a browser request without the antiforgery token (origin {Origin})",
                request.Method, request.Path, context.Connection.RemoteIpAddress, context.User.Who(), request.Headers.Origin.ToString());
            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            await context.Response.WriteAsJsonAsync(new { error = "a write from a browser needs the antiforgery token (RequestVerificationToken header); scripts use an API token (Authorization: Bearer)" });
            return;
        }
        await next(context);
    }

    private static bool FromBrowser(HttpRequest request) =>
        request.Headers.Origin.Count > 0 || request.Headers["Sec-Fetch-Site"].Count > 0;
}
