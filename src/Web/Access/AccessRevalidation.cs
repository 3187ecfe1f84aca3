using System.Security.Claims;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.Components.Server;

namespace DropBoard.Web.Access;

/// <summary>
/// A live page (a Blazor circuit) keeps the user it started with; this looks again every few seconds, so a
/// removed user, a re-created one or the end of the open mode loses the pages that are already open.
/// </summary>
public sealed class AccessRevalidation(ILoggerFactory loggerFactory, AccessStore store, AccessMode mode)
    : RevalidatingServerAuthenticationStateProvider(loggerFactory)
{
    protected override TimeSpan RevalidationInterval => TimeSpan.FromSeconds(5);

    protected override Task<bool> ValidateAuthenticationStateAsync(AuthenticationState state, CancellationToken cancellationToken)
    {
        var user = state.User;
        var valid = user.FindFirstValue(AccessClaims.KindClaim) switch
        {
            "password" => store.CurrentRole(user.Identity!.Name!, user.FindFirstValue(AccessClaims.StampClaim) ?? "") == AccessClaims.RoleOf(user),
            "open" => mode.IsOpen,
            _ => true,
        };
        return Task.FromResult(valid);
    }
}
