using System.Collections.Concurrent;
using DropBoard.Web.Access;
using Microsoft.AspNetCore.SignalR;

namespace DropBoard.Web.Hub;

/// <summary>
/// Open agent connections and the secret each came with. A connection lives for days, far past the request that
/// authenticated it, so every few seconds each per-host credential is looked up again and the connections of a
/// revoked one are closed: the agent's reconnect then meets a 401.
/// </summary>
public sealed class AgentConnections(CredentialCache credentials, ILogger<AgentConnections> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, (HubCallerContext Context, string Host, string Secret)> _open = new();

    public void Opened(HubCallerContext context)
    {
        if (context.User?.FindFirst(AccessClaims.HostClaim)?.Value is { } host
            && context.GetHttpContext() is { } http && BearerTokenHandler.Presented(http.Request) is { } secret)
            _open[context.ConnectionId] = (context, host, secret);
    }

    public void Closed(string connectionId) => _open.TryRemove(connectionId, out _);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(CredentialCache.MaxAge);
        while (await timer.WaitForNextTickAsync(stoppingToken))
            foreach (var (id, connection) in _open)
            {
                if (credentials.Find(connection.Secret) is AgentCredential) continue;
                logger.LogWarning("Closed agent connection {Connection} ({Host}): its credential was revoked", id, connection.Host);
                connection.Context.Abort();
                _open.TryRemove(id, out _);
            }
    }
}
