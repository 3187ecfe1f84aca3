using System.Data.Common;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Live;

namespace DropBoard.Web.Sessions;

/// <summary>
/// Which sessions record a host, and the way into them: each batch of a recorded host goes through the
/// <see cref="SessionWriter"/>. The list of recording sessions is cached and read again when the store says a
/// session started or stopped.
/// </summary>
public sealed class SessionRecorder
{
    private readonly SessionStore _store;
    private readonly SessionWriter _writer;
    private readonly LiveStore _live;
    private volatile IReadOnlyList<(long Id, HashSet<string>? Hosts)>? _recording;
    private int _version;

    public SessionRecorder(SessionStore store, SessionWriter writer, LiveStore live)
    {
        (_store, _writer, _live) = (store, writer, live);
        store.Changed += change =>
        {
            if (change.Kind is not (SessionChangeKind.Started or SessionChangeKind.Stopped)) return;
            Interlocked.Increment(ref _version);
            _recording = null;
        };
    }

    /// <summary>Records the batch into every session recording its host.</summary>
    /// <returns>Null once it is committed, or when no session records the host; else why it could not be stored now.</returns>
    public Task<string?> RecordAsync(AgentHello host, AgentBatch batch, CancellationToken cancellationToken)
    {
        var recording = _recording;
        try
        {
            if (recording is null)
            {
                // Kept only when no session started or stopped while it was read.
                var version = Volatile.Read(ref _version);
                recording = _store.Recording();
                if (version == Volatile.Read(ref _version)) _recording = recording;
            }
        }
        catch (DbException e)
        {
            return Task.FromResult<string?>($"the recording sessions could not be read from {_store.Database.Path} ({e.Message})");
        }
        var sessions = recording.Where(s => s.Hosts is null || s.Hosts.Contains(host.HostId)).Select(s => s.Id).ToList();
        return sessions.Count == 0
            ? Task.FromResult<string?>(null)
            : _writer.StoreAsync(new SessionWrite(sessions, host, batch, _live.CounterTexts(host.HostId)), cancellationToken);
    }
}
