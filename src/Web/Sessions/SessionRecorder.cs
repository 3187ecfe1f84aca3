using DropBoard.Shared.Contracts;
using DropBoard.Web.Live;

namespace DropBoard.Web.Sessions;

/// <summary>
/// Writes every accepted batch into the sessions recording its host. The list of recording sessions is
/// cached and read again when the store says a session started or stopped.
/// </summary>
public sealed class SessionRecorder : IBatchListener
{
    private readonly SessionStore _store;
    private readonly ILogger<SessionRecorder> _logger;
    private volatile IReadOnlyList<(long Id, HashSet<string>? Hosts)>? _recording;

    public SessionRecorder(SessionStore store, ILogger<SessionRecorder> logger)
    {
        (_store, _logger) = (store, logger);
        store.Changed += change =>
        {
            if (change.Kind is SessionChangeKind.Started or SessionChangeKind.Stopped) _recording = store.Recording();
        };
    }

    public ValueTask OnBatchAsync(AgentHello host, AgentBatch batch, CancellationToken cancellationToken)
    {
        var recording = _recording ??= _store.Recording();
        foreach (var (id, hosts) in recording)
        {
            if (hosts is not null && !hosts.Contains(host.HostId)) continue;
            if (!_store.Append(id, host, batch))
                _logger.LogDebug("Batch {Sequence} of {Host} was already in session {Session}", batch.Sequence, host.HostName, id);
        }
        return ValueTask.CompletedTask;
    }
}
