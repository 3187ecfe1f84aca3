using System.Security.Cryptography;
using System.Text;

namespace DropBoard.Web.Hub;

/// <summary>
/// Agents must present the token configured as <c>DropBoard:AgentToken</c> (Bearer header, or the
/// <c>access_token</c> query SignalR uses for WebSockets). Checked before the hub so a wrong token never
/// opens a connection; with no token configured, remote agents are refused.
/// </summary>
public static class AgentToken
{
    public static IApplicationBuilder UseAgentToken(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            if (!context.Request.Path.StartsWithSegments(AgentHub.Path))
            {
                await next();
                return;
            }
            var expected = context.RequestServices.GetRequiredService<IConfiguration>()["DropBoard:AgentToken"];
            var presented = context.Request.Headers.Authorization.ToString() is { } auth && auth.StartsWith("Bearer ", StringComparison.Ordinal)
                ? auth["Bearer ".Length..]
                : context.Request.Query["access_token"].ToString();
            if (string.IsNullOrEmpty(expected) || !Equal(presented, expected))
            {
                var logger = context.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AgentToken));
                logger.LogWarning("Refused agent connection from {Remote}: {Why}", context.Connection.RemoteIpAddress,
                    string.IsNullOrEmpty(expected) ? "no DropBoard:AgentToken is configured" : string.IsNullOrEmpty(presented) ? "no token" : "wrong token");
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                await context.Response.WriteAsync("agent token missing or wrong");
                return;
            }
            await next();
        });

    private static bool Equal(string presented, string expected) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected));
}
