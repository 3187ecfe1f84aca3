using System.Security.Claims;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace DropBoard.Web.Access;

/// <summary>
/// The zero-configuration start: while <see cref="AccessMode.IsOpen"/>, whoever reaches the loopback port is the
/// local admin, as before sign-in existed. The pages say so.
/// </summary>
public sealed class OpenAccessHandler(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder, AccessMode mode)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string Name = "Open";

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!mode.IsOpen) return Task.FromResult(AuthenticateResult.NoResult());
        var identity = new ClaimsIdentity(
            [new(ClaimTypes.Name, "local"), new(AccessClaims.KindClaim, "open"), new(AccessClaims.RoleClaim, Role.Admin.Name())], Name);
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Name)));
    }
}
