using System.Net;
using Microsoft.AspNetCore.HttpOverrides;

namespace DropBoard.Web.Access;

/// <summary>
/// Behind nginx or a load balancer every request comes from the proxy: <c>DropBoard:TrustedProxies</c> (addresses or
/// networks, comma-separated) names the proxies whose <c>X-Forwarded-For</c> and <c>X-Forwarded-Proto</c> are
/// believed, so the sign-in limit counts per client, the log names the client, and links say https. Nobody else's
/// forwarded headers are read: without the setting they are ignored, as a client could write anything there.
/// </summary>
public static class TrustedProxies
{
    public const string Setting = "DropBoard:TrustedProxies";
    private const int MaxEntries = 64;

    /// <returns>Why the setting cannot be used, or null.</returns>
    public static string? AddTrustedProxies(this IServiceCollection services, IConfiguration configuration)
    {
        if (configuration[Setting] is not { Length: > 0 } text) return null;
        var entries = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (entries.Length > MaxEntries) return $"{Setting} names {entries.Length} proxies; at most {MaxEntries}";
        var networks = new List<System.Net.IPNetwork>();
        foreach (var entry in entries)
        {
            if (System.Net.IPNetwork.TryParse(entry, out var network)) networks.Add(network);
            else if (IPAddress.TryParse(entry, out var address)) networks.Add(new System.Net.IPNetwork(address, address.GetAddressBytes().Length * 8));
            else return $"{Setting}: '{Bounded(entry)}' is neither an address nor a network; write it as 10.0.0.5,10.1.0.0/16,fd00::/8";
        }
        services.Configure<ForwardedHeadersOptions>(o =>
        {
            o.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            o.KnownProxies.Clear();
            o.KnownIPNetworks.Clear();
            foreach (var network in networks) o.KnownIPNetworks.Add(network);
            // A chain of trusted proxies is walked to the first address none of them is.
            o.ForwardLimit = null;
        });
        services.AddSingleton(new Trusted());
        return null;
    }

    public static WebApplication UseTrustedProxies(this WebApplication app)
    {
        if (app.Services.GetService<Trusted>() is not null) app.UseForwardedHeaders();
        return app;
    }

    private static string Bounded(string entry) =>
        new string(entry.Take(64).Select(c => char.IsControl(c) ? '?' : c).ToArray());

    private sealed class Trusted;
}
