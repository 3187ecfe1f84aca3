using System.Net;

namespace DropBoard.Web.Access;

/// <summary>
/// Whether the dashboard is open or needs sign-in. Open only while every address it listens on is loopback,
/// no user exists, no OpenID Connect provider is configured and <c>DropBoard:RequireSignIn</c> is not set: the
/// one-person start of README. Until the server has told which addresses it bound, nothing is open.
/// </summary>
public sealed class AccessMode(AccessStore store, IConfiguration configuration, TimeProvider clock)
{
    // Users are added by the admin commands in another process: look again every few seconds.
    private static readonly TimeSpan UserCountAge = TimeSpan.FromSeconds(2);
    private (long Count, DateTimeOffset At)? _users;

    public bool OidcConfigured => !string.IsNullOrEmpty(configuration["DropBoard:Oidc:Authority"]);

    public bool RequireSignInSetting => configuration.GetValue<bool>("DropBoard:RequireSignIn");

    /// <summary>Every bound address is loopback; null until the server has started.</summary>
    public bool? LoopbackOnly { get; private set; }

    public IReadOnlyList<string> Addresses { get; private set; } = [];

    public void Bound(ICollection<string> addresses)
    {
        Addresses = addresses.ToList();
        LoopbackOnly = addresses.Count > 0 && addresses.All(IsLoopback);
    }

    public bool IsOpen => LoopbackOnly == true && !RequireSignInSetting && !OidcConfigured && UserCount() == 0;

    /// <summary>Why the dashboard must not serve as bound, or null: off loopback, nobody could sign in and everybody would be in.</summary>
    public string? Refusal()
    {
        if (LoopbackOnly != false || OidcConfigured || UserCount() > 0) return null;
        return $"listening on {string.Join(", ", Addresses)} (not only loopback) with no user to sign in and no OpenID Connect provider, "
               + "so anyone on the network would control the dashboard. Create the first admin with "
               + "'dotnet run --project src/Web -- users add NAME --role admin' (with docker compose: 'docker compose run --rm web users add NAME --role admin'), "
               + "or set DropBoard:Oidc:Authority, or listen on 127.0.0.1 only";
    }

    private long UserCount()
    {
        var now = clock.GetUtcNow();
        if (_users is { } cached && now - cached.At < UserCountAge) return cached.Count;
        var count = store.UserCount();
        _users = (count, now);
        return count;
    }

    /// <summary>An http(s) URL whose host is loopback; <c>0.0.0.0</c>, <c>[::]</c>, <c>*</c> and <c>+</c> are every interface.</summary>
    public static bool IsLoopback(string address)
    {
        // Kestrel reports wildcards as given ("http://+:80", "http://*:80"), which Uri cannot parse.
        if (!Uri.TryCreate(address.Replace("://+", "://wildcard").Replace("://*", "://wildcard"), UriKind.Absolute, out var uri)) return false;
        if (uri.IsLoopback) return true;
        return IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip);
    }
}
