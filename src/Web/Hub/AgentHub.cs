using System.Collections.Concurrent;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Access;
using DropBoard.Web.Live;
using DropBoard.Web.Metrics;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;

namespace DropBoard.Web.Hub;

/// <summary>
/// Where remote agents send their batches (<c>/hubs/agent</c>). Only an agent credential opens a connection
/// (<see cref="BearerTokenHandler"/>); a per-host one may speak only for its own host. Each call carries its
/// hello, so a resend after a reconnect needs no state on the connection; <see cref="BatchIngest"/> drops
/// repeats and answers only once the batch is stored (or "retry" when it could not be). The contract (path, method, answers) is <see cref="AgentHubContract"/>.
/// </summary>
[Authorize(Policy = AccessClaims.AgentPolicy)]
public sealed class AgentHub(BatchIngest ingest, IEnumerable<IAgentPresence> presence, AccessStore access, AgentConnections connections, PrometheusMetrics metrics, ILogger<AgentHub> logger)
    : Microsoft.AspNetCore.SignalR.Hub
{
    private static readonly ConcurrentDictionary<string, (long Second, int Count)> Rates = new();

    /// <summary><see cref="IAgentHub.Batch"/>, its arguments read leniently (<see cref="Incoming{T}"/>).</summary>
    public Task<BatchAck> Batch(Incoming<AgentHello> hello, Incoming<AgentBatch> batch) => TakeAsync(BatchCheck.Read(hello, batch));

    /// <summary><see cref="IAgentHub.PackedBatch"/>: bytes that are not a packed batch are answered as a malformed batch is.</summary>
    public Task<BatchAck> PackedBatch(Incoming<AgentHello> hello, Incoming<byte[]> batch) => TakeAsync(BatchCheck.ReadPacked(hello, batch));

    private async Task<BatchAck> TakeAsync(BatchCheck.Result read)
    {
        if (read.Problem is { } problem)
        {
            logger.LogWarning("Rejected batch {Sequence} from {Host} ({Connection}): {Problem}",
                read.Batch?.Sequence, read.Hello?.HostName ?? "an unknown host", Context.ConnectionId, problem);
            return metrics.Answered(BatchAck.Refused(read.Batch?.Sequence ?? 0, BatchRejection.Malformed, problem));
        }
        var second = Environment.TickCount64 / 1000;
        var rate = Rates.AddOrUpdate(Context.ConnectionId, _ => (second, 1), (_, r) => r.Second == second ? (second, r.Count + 1) : (second, 1));
        if (rate.Count > AgentHubContract.MaxBatchesPerSecond)
            return metrics.Answered(BatchAck.Refused(read.Batch!.Sequence, BatchRejection.TooFast, $"too fast: more than {AgentHubContract.MaxBatchesPerSecond} batches a second"));

        if (Impersonation(read.Hello!) is { } refused)
        {
            logger.LogWarning("Refused batch {Sequence} from {Remote} ({Connection}): {Why}",
                read.Batch!.Sequence, Context.GetHttpContext()?.Connection.RemoteIpAddress, Context.ConnectionId, refused);
            return metrics.Answered(BatchAck.Refused(read.Batch.Sequence, BatchRejection.Forbidden, $"forbidden: {refused}"));
        }

        Context.Items["host"] = read.Hello!.HostId;
        var ack = await ingest.IngestAsync(read.Hello, read.Batch!, Context.ConnectionAborted);
        if (ack.Rejection == BatchRejection.Retry)
            logger.LogDebug("Batch {Sequence} from {Host}: retry ({Why})", ack.Sequence, read.Hello.HostName, ack.Rejected);
        return metrics.Answered(ack);
    }

    /// <summary>
    /// A per-host credential speaks for its host name and for the machine id its first batch named; the shared
    /// token may speak for any host. Why not, or null.
    /// </summary>
    private string? Impersonation(AgentHello hello)
    {
        if (Context.User?.FindFirst(AccessClaims.HostClaim)?.Value is not { } bound) return null;
        if (!string.Equals(hello.HostName, bound, StringComparison.OrdinalIgnoreCase))
            return $"the credential is for host '{bound}', the batch says it is from '{hello.HostName}'";
        if (Context.Items.TryGetValue("pinned", out var pinned) && pinned as string == hello.HostId) return null;
        var problem = access.PinAgent(bound, hello.HostId);
        if (problem is null) Context.Items["pinned"] = hello.HostId;
        return problem;
    }

    public override Task OnConnectedAsync()
    {
        connections.Opened(Context);
        return Task.CompletedTask;
    }

    public override Task OnDisconnectedAsync(Exception? exception)
    {
        connections.Closed(Context.ConnectionId);
        Rates.TryRemove(Context.ConnectionId, out _);
        var hostId = Context.Items.TryGetValue("host", out var host) ? host as string : null;
        if (hostId is not null)
            foreach (var p in presence) p.Disconnected(hostId);
        // The server ends a connection with an exception when a message was too big or not SignalR at all.
        if (exception is not null)
            logger.LogWarning("Closed agent connection {Connection} ({Host}): {Why}", Context.ConnectionId, hostId ?? "no batch yet", exception.Message);
        return Task.CompletedTask;
    }
}
