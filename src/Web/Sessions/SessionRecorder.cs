using DropBoard.Shared.Contracts;
using DropBoard.Web.Live;

namespace DropBoard.Web.Sessions;

/// <summary>
/// Writes every accepted batch into the sessions recording its host. The list of recording sessions is
/// cached and refreshed when a session starts or stops (<see cref="Refresh"/>).
/// </summary>
public sealed class SessionRecorder(SessionStore store, ILogger<SessionRecorder> logger) : IBatchListener
{
    private volatile IReadOnlyList<(long Id, HashSet<string>? Hosts)>? _recording;

    public void Refresh() => _recording = store.Recording();

    public ValueTask OnBatchAsync(AgentHello host, AgentBatch batch, CancellationToken cancellationToken)
    {
        var recording = _recording ??= store.Recording();
        foreach (var (id, hosts) in recording)
        {
            if (hosts is not null && !hosts.Contains(host.HostId)) continue;
            if (!store.Append(id, host, batch))
                logger.LogDebug("Batch {Sequence} of {Host} was already in session {Session}", batch.Sequence, host.HostName, id);
        }
        return ValueTask.CompletedTask;
    }
}
