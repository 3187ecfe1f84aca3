using System.Security.Claims;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authentication.OpenIdConnect;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Components.Authorization;
using Microsoft.AspNetCore.RateLimiting;

namespace DropBoard.Web.Access;

/// <summary>
/// Sign-in, roles and limits, wired once. Every endpoint, page and hub is behind the viewer policy unless it says
/// otherwise (the fallback policy), so a new endpoint is never open by accident.
/// </summary>
public static class AccessServices
{
    public const string DefaultScheme = "DropBoard", OidcScheme = "oidc";
    public const string SignInLimit = "sign-in";

    public static IServiceCollection AddAccess(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddSingleton<AccessStore>();
        services.AddSingleton<AccessMode>();
        services.AddSingleton<CredentialCache>();
        services.AddSingleton<Hub.AgentConnections>();
        services.AddHostedService(sp => sp.GetRequiredService<Hub.AgentConnections>());
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, RefusalLog>();
        services.AddSingleton<IAuthorizationHandler, RoleRequirementHandler>();
        services.AddScoped<AuthenticationStateProvider, AccessRevalidation>();
        services.AddScoped<CurrentUser>();
        services.AddCascadingAuthenticationState();

        var authentication = services.AddAuthentication(DefaultScheme)
            .AddPolicyScheme(DefaultScheme, "DropBoard", o => o.ForwardDefaultSelector = SchemeFor)
            .AddScheme<AuthenticationSchemeOptions, BearerTokenHandler>(BearerTokenHandler.Name, null)
            .AddScheme<AuthenticationSchemeOptions, OpenAccessHandler>(OpenAccessHandler.Name, null)
            .AddCookie(CookieAuthenticationDefaults.AuthenticationScheme, o =>
            {
                o.Cookie.Name = "dropboard";
                o.Cookie.HttpOnly = true;
                o.Cookie.SameSite = SameSiteMode.Lax;
                o.LoginPath = "/account/login";
                o.AccessDeniedPath = "/account/denied";
                o.ExpireTimeSpan = TimeSpan.FromHours(12);
                o.SlidingExpiration = true;
                o.Events.OnRedirectToLogin = c => StatusOrRedirect(c, StatusCodes.Status401Unauthorized);
                o.Events.OnRedirectToAccessDenied = c => StatusOrRedirect(c, StatusCodes.Status403Forbidden);
                o.Events.OnValidatePrincipal = ValidateCookieAsync;
            });
        if (configuration["DropBoard:Oidc:Authority"] is { Length: > 0 } authority)
            authentication.AddOpenIdConnect(OidcScheme, o =>
            {
                o.Authority = authority;
                o.ClientId = configuration["DropBoard:Oidc:ClientId"];
                o.ClientSecret = configuration["DropBoard:Oidc:ClientSecret"];
                o.ResponseType = "code";
                o.SignInScheme = CookieAuthenticationDefaults.AuthenticationScheme;
                o.RequireHttpsMetadata = authority.StartsWith("https://", StringComparison.OrdinalIgnoreCase);
                o.CallbackPath = "/account/oidc/callback";
                o.Events.OnTokenValidated = c =>
                {
                    c.Principal = OidcPrincipal(c.Principal!, configuration);
                    return Task.CompletedTask;
                };
            });

        services.AddAuthorizationBuilder()
            .AddPolicy(AccessClaims.ViewerPolicy, p => p.AddRequirements(new RoleRequirement(Role.Viewer)))
            .AddPolicy(AccessClaims.EditorPolicy, p => p.AddRequirements(new RoleRequirement(Role.Editor)))
            .AddPolicy(AccessClaims.AdminPolicy, p => p.AddRequirements(new RoleRequirement(Role.Admin)))
            .AddPolicy(AccessClaims.AgentPolicy, p => p.AddRequirements(new RoleRequirement(null)))
            .AddPolicy(AccessClaims.RecorderPolicy, p => p.AddRequirements(new RoleRequirement(Role.Editor, OrAgent: true)))
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().AddRequirements(new RoleRequirement(Role.Viewer)).Build());

        services.AddRateLimiter(o =>
        {
            o.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            o.OnRejected = async (c, cancellationToken) =>
            {
                var http = c.HttpContext;
                http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AccessServices))
                    .LogWarning("Refused {Method} {Path} from {Remote} for {Who}: rate limit", http.Request.Method, http.Request.Path,
                        http.Connection.RemoteIpAddress, http.User.Who());
                if (c.Lease.TryGetMetadata(MetadataName.RetryAfter, out var retry))
                    http.Response.Headers.RetryAfter = ((int)Math.Ceiling(retry.TotalSeconds)).ToString();
                await http.Response.WriteAsync("too many requests: wait and try again", cancellationToken);
            };
            var signIns = configuration.GetValue("DropBoard:SignInsPerMinute", 10);
            o.AddPolicy(SignInLimit, http => RateLimitPartition.GetFixedWindowLimiter(http.Connection.RemoteIpAddress?.ToString() ?? "",
                _ => new FixedWindowRateLimiterOptions { PermitLimit = signIns, Window = TimeSpan.FromMinutes(1), QueueLimit = 0 }));
            var writes = configuration.GetValue("DropBoard:WritesPerMinute", 120);
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http => BrowserRequestGuard.IsApiWrite(http.Request)
                ? RateLimitPartition.GetTokenBucketLimiter(http.User.Who(), _ => new TokenBucketRateLimiterOptions
                {
                    TokenLimit = writes, TokensPerPeriod = Math.Max(1, writes / 60), ReplenishmentPeriod = TimeSpan.FromSeconds(1), QueueLimit = 0,
                })
                : RateLimitPartition.GetNoLimiter(""));
        });
        return services;
    }

    /// <summary>Authentication, authorization, limits and the browser-request guard, in that order.</summary>
    public static WebApplication UseAccess(this WebApplication app)
    {
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseRateLimiter();
        app.UseAntiforgery();
        app.UseMiddleware<BrowserRequestGuard>();
        return app;
    }

    /// <summary>Bearer secrets (and the agent hub) by token; otherwise the open local mode or the sign-in cookie.</summary>
    private static string SchemeFor(HttpContext context)
    {
        if (BearerTokenHandler.Presented(context.Request) is not null || context.Request.Path.StartsWithSegments(Shared.Contracts.AgentHubContract.Path))
            return BearerTokenHandler.Name;
        return context.RequestServices.GetRequiredService<AccessMode>().IsOpen ? OpenAccessHandler.Name : CookieAuthenticationDefaults.AuthenticationScheme;
    }

    /// <summary>Scripts, hubs and the circuit get a status code; only pages are sent to the sign-in page.</summary>
    private static Task StatusOrRedirect(RedirectContext<CookieAuthenticationOptions> context, int status)
    {
        if (IsMachinePath(context.Request.Path))
            context.Response.StatusCode = status;
        else
            context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }

    public static bool IsMachinePath(PathString path) =>
        path.StartsWithSegments("/api") || path.StartsWithSegments("/hubs") || path.StartsWithSegments("/_blazor") || path.StartsWithSegments("/metrics");

    /// <summary>A removed or re-created user's cookie stops working; a changed role applies at once.</summary>
    private static Task ValidateCookieAsync(CookieValidatePrincipalContext context)
    {
        var user = context.Principal!;
        if (user.FindFirstValue(AccessClaims.KindClaim) != "password") return Task.CompletedTask;
        var role = context.HttpContext.RequestServices.GetRequiredService<AccessStore>()
            .CurrentRole(user.Identity!.Name!, user.FindFirstValue(AccessClaims.StampClaim) ?? "");
        if (role is null)
        {
            context.RejectPrincipal();
            return context.HttpContext.SignOutAsync(CookieAuthenticationDefaults.AuthenticationScheme);
        }
        if (AccessClaims.RoleOf(user) != role)
        {
            context.ReplacePrincipal(PasswordPrincipal(user.Identity.Name!, role.Value, user.FindFirstValue(AccessClaims.StampClaim)!));
            context.ShouldRenew = true;
        }
        return Task.CompletedTask;
    }

    public static ClaimsPrincipal PasswordPrincipal(string name, Role role, string stamp) =>
        new(new ClaimsIdentity(
            [new(ClaimTypes.Name, name), new(AccessClaims.KindClaim, "password"), new(AccessClaims.RoleClaim, role.Name()), new(AccessClaims.StampClaim, stamp)],
            CookieAuthenticationDefaults.AuthenticationScheme));

    /// <summary>
    /// The provider's role claim (<c>DropBoard:Oidc:RoleClaim</c>, default <c>roles</c>) picks the highest DropBoard role it
    /// names; without one, <c>DropBoard:Oidc:DefaultRole</c> (default viewer).
    /// </summary>
    private static ClaimsPrincipal OidcPrincipal(ClaimsPrincipal external, IConfiguration configuration)
    {
        var roleClaim = configuration["DropBoard:Oidc:RoleClaim"] ?? "roles";
        var named = external.FindAll(roleClaim).Select(c => AccessClaims.TryParse(c.Value, out var r) ? r : (Role?)null).Max();
        var role = named ?? (AccessClaims.TryParse(configuration["DropBoard:Oidc:DefaultRole"], out var d) ? d : Role.Viewer);
        var name = external.FindFirstValue("preferred_username") ?? external.FindFirstValue("email") ?? external.FindFirstValue(ClaimTypes.NameIdentifier) ?? "oidc user";
        return new ClaimsPrincipal(new ClaimsIdentity(
            [new(ClaimTypes.Name, name), new(AccessClaims.KindClaim, "oidc"), new(AccessClaims.RoleClaim, role.Name())],
            CookieAuthenticationDefaults.AuthenticationScheme));
    }
}

/// <summary>At least <see cref="Role"/>, or (with a null role, or <paramref name="OrAgent"/>) an agent credential.</summary>
public sealed record RoleRequirement(Role? Role, bool OrAgent = false) : IAuthorizationRequirement
{
    public override string ToString() => Role is { } r
        ? $"needs the {r.Name()} role{(OrAgent ? " or an agent credential" : "")}"
        : "needs an agent credential";
}

public sealed class RoleRequirementHandler : AuthorizationHandler<RoleRequirement>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, RoleRequirement requirement)
    {
        if (requirement.Role is { } role && context.User.IsAtLeast(role) || (requirement.Role is null || requirement.OrAgent) && context.User.IsAgent())
            context.Succeed(requirement);
        return Task.CompletedTask;
    }
}
