using System.Collections.Concurrent;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace DropBoard.Web.Access;

/// <summary>
/// <c>Authorization: Bearer SECRET</c> (or SignalR's <c>access_token</c> query on the agent hub, where browsers'
/// WebSockets cannot set headers): an API token with a role, a per-host agent credential, or the shared
/// <c>DropBoard:AgentToken</c>. A secret that matches nothing fails authentication, so the request gets a 401.
/// </summary>
public sealed class BearerTokenHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    CredentialCache credentials, IConfiguration configuration)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string Name = "Bearer";

    /// <summary>Where the handler leaves why it refused, for the refusal log.</summary>
    public const string FailureItem = "dropboard:auth-failure";

    public static string? Presented(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return header["Bearer ".Length..].Trim();
        return request.Path.StartsWithSegments(Shared.Contracts.AgentHubContract.Path) && request.Query["access_token"].ToString() is { Length: > 0 } query ? query : null;
    }

    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (Presented(Request) is not { Length: > 0 } secret)
        {
            Context.Items[FailureItem] = "no token";
            return Task.FromResult(AuthenticateResult.NoResult());
        }
        var identity = Identify(secret);
        if (identity is null)
        {
            Context.Items[FailureItem] = "wrong token";
            return Task.FromResult(AuthenticateResult.Fail("wrong or revoked token"));
        }
        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Name)));
    }

    private ClaimsIdentity? Identify(string secret)
    {
        if (configuration["DropBoard:AgentToken"] is { Length: > 0 } shared && SameSecret(secret, shared))
            return Identity("shared agent token", ("agent", null, null));
        return credentials.Find(secret) switch
        {
            ApiTokenCredential token => Identity(token.Name, ("api-token", token.Role, null)),
            AgentCredential agent => Identity(agent.Host, ("agent", null, agent.Host)),
            _ => null,
        };
    }

    private static ClaimsIdentity Identity(string name, (string Kind, Role? Role, string? Host) what)
    {
        var claims = new List<Claim> { new(ClaimTypes.Name, name), new(AccessClaims.KindClaim, what.Kind) };
        if (what.Role is { } role) claims.Add(new(AccessClaims.RoleClaim, role.Name()));
        if (what.Host is { } host) claims.Add(new(AccessClaims.HostClaim, host));
        return new ClaimsIdentity(claims, Name);
    }

    private static bool SameSecret(string presented, string expected) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected));
}

/// <summary>
/// Live credentials by secret for a couple of seconds: a token or credential revoked by the admin commands (in
/// another process) stops working within that time, and a busy API client does not cost a database read per
/// request. Misses are not kept, so a flood of made-up secrets cannot fill it.
/// </summary>
public sealed class CredentialCache(AccessStore store, TimeProvider clock)
{
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(2);
    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<string, (Credential Credential, DateTimeOffset At)> _found = new(StringComparer.Ordinal);

    public Credential? Find(string secret)
    {
        var now = clock.GetUtcNow();
        if (_found.TryGetValue(secret, out var hit) && now - hit.At < MaxAge) return hit.Credential;
        var credential = store.Find(secret);
        if (credential is null)
        {
            _found.TryRemove(secret, out _);
            return null;
        }
        if (_found.Count >= MaxEntries) _found.Clear();
        _found[secret] = (credential, now);
        return credential;
    }
}
