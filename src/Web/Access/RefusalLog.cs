using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;

namespace DropBoard.Web.Access;

/// <summary>Every request that authorization turns away is logged with who asked for what and why.</summary>
public sealed class RefusalLog(ILogger<RefusalLog> logger) : IAuthorizationMiddlewareResultHandler
{
    private readonly AuthorizationMiddlewareResultHandler _default = new();

    public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult result)
    {
        if (result.Challenged || result.Forbidden)
        {
            var why = result.Forbidden
                ? string.Join("; ", result.AuthorizationFailure?.FailedRequirements.Select(r => r.ToString()) ?? ["forbidden"])
                : context.Items[BearerTokenHandler.FailureItem] as string ?? "not signed in";
            if (context.Request.Path.StartsWithSegments(Shared.Contracts.AgentHubContract.Path))
                logger.LogWarning("Refused agent connection from {Remote}: {Why}", context.Connection.RemoteIpAddress, why);
            else
                logger.LogWarning("Refused {Method} {Path} from {Remote} for {Who}: {Why}",
                    context.Request.Method, context.Request.Path, context.Connection.RemoteIpAddress, context.User.Who(), why);
        }
        return _default.HandleAsync(next, context, policy, result);
    }
}
