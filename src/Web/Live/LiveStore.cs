using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Live;

/// <summary>A host as the dashboard lists it.</summary>
public sealed record HostStatus(
    string HostId, string HostName, string KernelRelease, string Source, bool Connected, DateTimeOffset? LastBatch,
    long LostRecords, long DropsLastMinute);

/// <summary>Drops at one site for one reason over a window.</summary>
public sealed record SiteTotal(string Function, string Site, string? Reason, long Count);

/// <summary>
/// The last minutes of every host in memory: buckets and counter deltas in time order, trimmed as they age.
/// Pages and the JSON API read it; <see cref="Changed"/> tells pages to refresh.
/// </summary>
public sealed class LiveStore(TimeProvider clock) : IBatchListener
{
    public static readonly TimeSpan Keep = TimeSpan.FromMinutes(15);

    private readonly Dictionary<string, HostState> _hosts = [];

    /// <summary>Raised after each accepted batch (on the ingesting thread: subscribers must not block).</summary>
    public event Action? Changed;

    public ValueTask OnBatchAsync(AgentHello host, AgentBatch batch, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow();
        lock (_hosts)
        {
            if (!_hosts.TryGetValue(host.HostId, out var state)) _hosts[host.HostId] = state = new HostState();
            state.Hello = host;
            state.Connected = true;
            state.LastBatch = now;
            state.LostRecords += batch.LostRecords;
            state.Drops.AddRange(batch.Drops);
            state.Counters.AddRange(batch.Counters);
            var oldest = (now - Keep).ToUnixTimeMilliseconds();
            state.Drops.RemoveAll(d => d.StartMs < oldest);
            state.Counters.RemoveAll(c => c.AtMs < oldest);
        }
        Changed?.Invoke();
        return ValueTask.CompletedTask;
    }

    /// <summary>An agent's connection ended (the hub calls this); its data stays until it ages out.</summary>
    public void Disconnected(string hostId)
    {
        lock (_hosts)
            if (_hosts.TryGetValue(hostId, out var state)) state.Connected = false;
        Changed?.Invoke();
    }

    public IReadOnlyList<HostStatus> Hosts()
    {
        var minuteAgo = clock.GetUtcNow().AddMinutes(-1).ToUnixTimeMilliseconds();
        lock (_hosts)
            return _hosts.Values
                .Select(s => new HostStatus(s.Hello.HostId, s.Hello.HostName, s.Hello.KernelRelease, s.Hello.Source, s.Connected,
                    s.LastBatch, s.LostRecords, s.Drops.Where(d => d.StartMs >= minuteAgo).Sum(d => d.Count)))
                .OrderBy(h => h.HostName, StringComparer.Ordinal)
                .ToList();
    }

    public AgentHello? Hello(string hostId)
    {
        lock (_hosts) return _hosts.TryGetValue(hostId, out var s) ? s.Hello : null;
    }

    /// <summary>The buckets and deltas of a host over the last <paramref name="window"/>.</summary>
    public (List<DropBucket> Drops, List<CounterDelta> Counters) Window(string hostId, TimeSpan window)
    {
        var since = (clock.GetUtcNow() - window).ToUnixTimeMilliseconds();
        lock (_hosts)
        {
            if (!_hosts.TryGetValue(hostId, out var s)) return ([], []);
            return (s.Drops.Where(d => d.StartMs >= since).ToList(), s.Counters.Where(c => c.AtMs >= since).ToList());
        }
    }

    /// <summary>Drops per site and reason over the last <paramref name="window"/>, most first.</summary>
    public List<SiteTotal> Sites(string hostId, TimeSpan window) =>
        Window(hostId, window).Drops
            .GroupBy(d => (d.Function, d.Site, d.Reason))
            .Select(g => new SiteTotal(g.Key.Function, g.Key.Site, g.Key.Reason, g.Sum(d => d.Count)))
            .OrderByDescending(s => s.Count).ThenBy(s => s.Site, StringComparer.Ordinal)
            .ToList();

    /// <summary>Counter rises over the last <paramref name="window"/>, by name.</summary>
    public List<CounterDelta> Counters(string hostId, TimeSpan window) =>
        Window(hostId, window).Counters
            .GroupBy(c => c.Name)
            .Select(g => new CounterDelta(g.Key, g.Sum(c => c.Delta), g.Max(c => c.AtMs)))
            .OrderBy(c => c.Name, StringComparer.Ordinal)
            .ToList();

    private sealed class HostState
    {
        public AgentHello Hello = null!;
        public bool Connected;
        public DateTimeOffset? LastBatch;
        public long LostRecords;
        public readonly List<DropBucket> Drops = [];
        public readonly List<CounterDelta> Counters = [];
    }
}
