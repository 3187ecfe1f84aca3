using DropBoard.Shared.Contracts;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace DropBoard.Benchmarks.Live;

/// <summary>A simulated agent's hub connection, made as the real agent makes its own (source-generated JSON).</summary>
internal static class AgentConnection
{
    public static HubConnection Build(Uri server, string token, IRetryPolicy? reconnect = null)
    {
        var builder = new HubConnectionBuilder()
            .WithUrl(new Uri(server, AgentHubContract.Path.TrimStart('/')), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
            .AddJsonProtocol(o => o.PayloadSerializerOptions.TypeInfoResolverChain.Insert(0, ContractsJson.Default));
        if (reconnect is not null) builder.WithAutomaticReconnect(reconnect);
        return builder.Build();
    }
}
