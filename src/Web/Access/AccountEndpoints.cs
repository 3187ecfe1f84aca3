using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Mvc;

namespace DropBoard.Web.Access;

/// <summary>
/// Sign-in and sign-out as plain form posts (the sign-in page is server-rendered, no circuit needed), with the
/// antiforgery token every form carries and a per-address limit on attempts.
/// </summary>
public static class AccountEndpoints
{
    public static IEndpointRouteBuilder MapAccountEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapPost("/account/signin", SignInAsync).AllowAnonymous().RequireRateLimiting(AccessServices.SignInLimit);
        app.MapPost("/account/signout", async (HttpContext context) =>
        {
            await context.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
            return Results.LocalRedirect("/account/login");
        }).AllowAnonymous();
        if (app.ServiceProvider.GetRequiredService<AccessMode>().OidcConfigured)
            app.MapGet("/account/oidc", (string? returnUrl) =>
                    Results.Challenge(new AuthenticationProperties { RedirectUri = Local(returnUrl) }, [AccessServices.OidcScheme]))
                .AllowAnonymous();
        return app;
    }

    private static async Task<IResult> SignInAsync(
        HttpContext context, [FromForm] string? name, [FromForm] string? password, [FromForm] string? returnUrl,
        AccessStore store, ILogger<AccessStore> logger)
    {
        name = name?.Trim() ?? "";
        // Bounded before the (deliberately slow) hash: a megabyte password is no password.
        var checkedUser = name.Length is > 0 and <= 64 && password is { Length: > 0 and <= 256 } ? store.CheckPassword(name, password) : null;
        if (checkedUser is not { } found)
        {
            logger.LogWarning("Refused sign-in for {Name} from {Remote}: unknown user or wrong password", name.Length <= 64 ? name : name[..64],
                context.Connection.RemoteIpAddress);
            return Results.LocalRedirect($"/account/login?failed=1&returnUrl={Uri.EscapeDataString(Local(returnUrl))}");
        }
        await context.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme,
            AccessServices.PasswordPrincipal(found.User.Name, found.User.Role, found.Stamp));
        logger.LogInformation("{Name} signed in from {Remote} as {Role}", found.User.Name, context.Connection.RemoteIpAddress, found.User.Role.Name());
        return Results.LocalRedirect(Local(returnUrl));
    }

    /// <summary>Only a path on this site: a crafted link must not send a fresh sign-in elsewhere.</summary>
    public static string Local(string? returnUrl) =>
        returnUrl is { Length: > 0 and < 2000 } url && url[0] == '/' && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal)
            ? url
            : "/";
}
