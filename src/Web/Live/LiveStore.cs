using System.Collections.Concurrent;
using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Packets;

using DropBoard.Web.Sessions.Import;
using DropBoard.Web.Views;

namespace DropBoard.Web.Live;

/// <summary>A host as the dashboard lists it.</summary>
public sealed record HostStatus(
    string HostId, string HostName, string KernelRelease, string Source, bool Connected, DateTimeOffset? LastBatch,
    long LostRecords, long DropsLastMinute, IReadOnlyList<FunctionRate> TopFunctions, AgentLoss Discarded);

/// <summary>
/// What the agent itself could not deliver: batches it discarded (spool and memory backlog full) and the drops they
/// held, since the dashboard started; and why its spool cannot keep batches right now, if it cannot.
/// </summary>
public sealed record AgentLoss(long Batches, long Drops, string? SpoolProblem)
{
    public static readonly AgentLoss None = new(0, 0, null);
}

/// <summary>Drops of one kernel function per second over the last minute.</summary>
public sealed record FunctionRate(string Function, double PerSecond);

/// <summary>The identity the live store counts by.</summary>
public sealed record SiteKey(string Function, string Site, string? Reason, string Protocol, uint Netns = 0);

/// <summary>A network namespace a host's drops or counters came from: its inode, and its name when the agent knows one.</summary>
public sealed record NetnsLabel(uint Netns, string? Name)
{
    public override string ToString() => Name is null ? $"netns {Netns}" : $"{Name} ({Netns})";
}

/// <summary>The drops and counter rises of one span between counter samples (none without a span), for the explanation.</summary>
public sealed record LiveExplainInput(List<DropBucket> Drops, List<CounterDelta> Counters, int BucketMs, SampleSpan? Span);

/// <summary>
/// The last minutes of every host in memory. Drops and counters are summed per second in fixed rings
/// (<see cref="Keep"/>), so memory and query cost do not grow with the drop rate; the last
/// <see cref="FineKeep"/> of 10 ms buckets is kept as well, for bursts and lead/lag. Each host has its own
/// lock, so agents do not wait for each other. <see cref="Changed"/> tells pages to refresh.
/// </summary>
public sealed class LiveStore(TimeProvider clock) : IBatchListener, IAgentPresence
{
    public static readonly TimeSpan Keep = TimeSpan.FromMinutes(15);
    public static readonly TimeSpan FineKeep = TimeSpan.FromMinutes(2);
    private const int MaxFineBuckets = 200_000;
    private const int MaxNamespaces = 1024;

    private readonly ConcurrentDictionary<string, HostState> _hosts = new();

    /// <summary>Raised after each accepted batch (on the ingesting thread: subscribers must not block).</summary>
    public event Action? Changed;

    public ValueTask OnBatchAsync(AgentHello host, AgentBatch batch, CancellationToken cancellationToken)
    {
        var state = _hosts.GetOrAdd(host.HostId, _ => new HostState());
        lock (state)
        {
            state.Hello = host;
            state.Connected = true;
            state.LastBatch = clock.GetUtcNow();
            state.LostRecords += batch.LostRecords;
            state.Discarded = new AgentLoss(state.Discarded.Batches + batch.BatchesDiscarded, state.Discarded.Drops + batch.DropsDiscarded, batch.SpoolProblem);
            foreach (var d in batch.Drops)
            {
                var key = new SiteKey(d.Function, d.Site, d.Reason, EtherType.Name(d.Protocol), d.Netns);
                if (d.Netns != 0) state.NameNetns(d.Netns, d.NetnsName);
                state.Drops.Add(d.StartMs / 1000, state.SiteId(key, d.Protocol), d.Count);
                state.LatestSecond = Math.Max(state.LatestSecond, d.StartMs / 1000);
                state.Fine.Enqueue(d);
            }
            if (batch.CounterTexts is { } texts)
                foreach (var (name, text) in texts) state.SetText(name, text);
            foreach (var c in batch.Counters)
            {
                state.Counters.Add(c.AtMs / 1000, state.CounterId(c.Name, c.Netns), c.Delta);
                if (c.Netns != 0) state.NameNetns(c.Netns, null);
                state.FineCounters.Enqueue(c);
                state.Samples.Add(c.AtMs);
            }
            state.LatestBatchMs = Math.Max(state.LatestBatchMs, batch.SentAtMs);
            var fineSince = state.LatestSecond * 1000 - (long)FineKeep.TotalMilliseconds;
            while (state.Fine.Count > 0 && (state.Fine.Count > MaxFineBuckets || state.Fine.Peek().StartMs < fineSince))
                state.KeepHead(state.Fine.Dequeue());
            while (state.FineCounters.Count > 0 && (state.FineCounters.Count > MaxFineBuckets || state.FineCounters.Peek().AtMs < fineSince))
                state.FineCounters.Dequeue();
            var keepSince = Math.Max(state.LatestSecond * 1000, state.LatestBatchMs) - (long)Keep.TotalMilliseconds - 1000;
            while (state.Samples.Count > 0 && state.Samples.Min < keepSince)
            {
                state.Heads.Remove(state.Samples.Min);
                state.Samples.Remove(state.Samples.Min);
            }
        }
        Changed?.Invoke();
        return ValueTask.CompletedTask;
    }

    /// <summary>An agent's connection ended (the hub calls this); its data stays until it ages out.</summary>
    public void Disconnected(string hostId)
    {
        if (_hosts.TryGetValue(hostId, out var state))
            lock (state) state.Connected = false;
        Changed?.Invoke();
    }

    public IReadOnlyList<HostStatus> Hosts()
    {
        var list = new List<HostStatus>();
        foreach (var state in _hosts.Values)
            lock (state)
            {
                var lastMinute = SumBySite(state, TimeSpan.FromMinutes(1), DropFilter.None);
                var top = lastMinute.GroupBy(kv => state.Sites[kv.Key].Function)
                    .Select(g => new FunctionRate(g.Key, g.Sum(kv => kv.Value) / 60.0))
                    .OrderByDescending(f => f.PerSecond).ThenBy(f => f.Function, StringComparer.Ordinal).Take(3).ToList();
                list.Add(new HostStatus(state.Hello.HostId, state.Hello.HostName, state.Hello.KernelRelease, state.Hello.Source,
                    state.Connected, state.LastBatch, state.LostRecords, lastMinute.Values.Sum(), top, state.Discarded));
            }
        return list.OrderBy(h => h.HostName, StringComparer.Ordinal).ThenBy(h => h.HostId, StringComparer.Ordinal).ToList();
    }

    public AgentHello? Hello(string hostId) =>
        _hosts.TryGetValue(hostId, out var state) ? Locked(state, s => s.Hello) : null;

    /// <summary>Drops per site, reason and protocol over the last <paramref name="window"/>, most first.</summary>
    public List<SiteTotal> Sites(string hostId, TimeSpan window, DropFilter? filter = null) =>
        Read(hostId, [], state => SumBySite(state, window, filter ?? DropFilter.None)
            .Select(kv => Total(state, state.Sites[kv.Key], kv.Value))
            .OrderByDescending(s => s.Count).ThenBy(s => s.Site, StringComparer.Ordinal).ThenBy(s => s.Reason, StringComparer.Ordinal)
            .ToList());

    /// <summary>The latest text the host's agent sent for each counter that has one (a netfilter rule's), by name.</summary>
    public IReadOnlyDictionary<string, string> CounterTexts(string hostId) =>
        Read<IReadOnlyDictionary<string, string>>(hostId, new Dictionary<string, string>(),
            state => new Dictionary<string, string>(state.Texts, StringComparer.Ordinal));

    /// <summary>Counter rises over the last <paramref name="window"/>, by name.</summary>
    public List<CounterDelta> Counters(string hostId, TimeSpan window) =>
        Read(hostId, [], state =>
        {
            var sums = new Dictionary<int, (long Delta, long Last)>();
            var (from, to) = Range(state, window);
            foreach (var (second, values) in state.Counters.Range(from, to))
                foreach (var (id, delta) in values)
                    sums[id] = (sums.GetValueOrDefault(id).Delta + delta, second * 1000);
            return sums.Select(kv => new CounterDelta(state.CounterNames[kv.Key].Name, kv.Value.Delta, kv.Value.Last, state.CounterNames[kv.Key].Netns))
                .OrderBy(c => c.Name, StringComparer.Ordinal).ThenBy(c => c.Netns).ToList();
        });

    /// <summary>The network namespaces the host's drops and counters named (bpf source), by inode; empty for other sources.</summary>
    public List<NetnsLabel> Namespaces(string hostId) =>
        Read(hostId, [], state => state.NetnsNames.Select(kv => new NetnsLabel(kv.Key, kv.Value)).OrderBy(n => n.Name is null).ThenBy(n => n.Name, StringComparer.Ordinal).ThenBy(n => n.Netns).ToList());

    /// <summary>Drops per second of the <paramref name="top"/> functions of the window (the rest summed as "other").</summary>
    public TimeSeries DropsOverTime(string hostId, TimeSpan window, DropFilter? filter = null, int top = 8) =>
        Read(hostId, TimeSeries.Empty, state =>
        {
            filter ??= DropFilter.None;
            var (from, to) = Range(state, window);
            var points = state.Drops.Range(from, to).SelectMany(row => row.Sums
                .Where(sum => Keeps(filter, state.Sites[sum.Key]))
                .Select(sum => ((int)(row.Second - from), state.Sites[sum.Key].Function, sum.Value)));
            return TimeSeries.Top(Seconds(from, to), points, top);
        });

    /// <summary>Rises per second of the named counters (the loss counters a page shows), of the filter's namespace when it has one.</summary>
    public TimeSeries CountersOverTime(string hostId, TimeSpan window, IReadOnlyCollection<string> names, DropFilter? filter = null) =>
        Read(hostId, TimeSeries.Empty, state =>
        {
            filter ??= DropFilter.None;
            var (from, to) = Range(state, window);
            var points = state.Counters.Range(from, to).SelectMany(row => row.Sums
                .Where(sum => filter.MatchesNetns(state.CounterNames[sum.Key].Netns))
                .Select(sum => ((int)(row.Second - from), state.CounterNames[sum.Key].Name, sum.Value)));
            return TimeSeries.Named(Seconds(from, to), points, [.. names]);
        });

    /// <summary>
    /// What the explanation reads: the drops and counter rises of the span between the counter samples that best
    /// fits the last <paramref name="window"/> (<see cref="SampleSpan.Between"/>). The span ends at the last
    /// sample a later batch followed, so every drop before it has arrived. Drops come as the 10 ms buckets when
    /// the window fits in <see cref="FineKeep"/>, else as per-second sums (bursts then show at one-second
    /// resolution), whose first second leaves out the drops before the first sample (see <see cref="HostState.Heads"/>)
    /// and whose last second is taken from the 10 ms buckets up to the last sample: the same span as the rises.
    /// </summary>
    public LiveExplainInput ExplainInput(string hostId, TimeSpan window) =>
        Read(hostId, new LiveExplainInput([], [], 10, null), state =>
        {
            var (from, to) = Range(state, window);
            var windowMs = (long)Math.Ceiling(window.TotalMilliseconds);
            // One interval more than the window, so that a span near its length can start before the window does.
            var fromMs = from * 1000 - 1500;
            var span = SampleSpan.Between(state.Samples, fromMs, Math.Min(to * 1000 + 999, state.LatestBatchMs - 1), windowMs);
            if (span is null) return new LiveExplainInput([], [], state.Hello.BucketMs, null);
            if (window <= FineKeep)
                return new LiveExplainInput(
                    state.Fine.Where(span.Holds).ToList(), state.FineCounters.Where(span.Holds).ToList(), state.Hello.BucketMs, span);
            var (firstSecond, lastSecond) = (span.StartMs / 1000, span.EndMs / 1000);
            var counters = new List<CounterDelta>();
            foreach (var (second, sums) in state.Counters.Range(firstSecond, lastSecond))
            {
                // A second holds one sample (they are a second apart): its rises are stamped with its time.
                var at = state.Samples.GetViewBetween(second * 1000, second * 1000 + 999) is { Count: > 0 } inSecond ? inSecond.Max : second * 1000 + 999;
                foreach (var (id, delta) in sums)
                    counters.Add(new CounterDelta(state.CounterNames[id].Name, delta, at, state.CounterNames[id].Netns));
            }
            // The end edge is recent: the 10 ms buckets split its second at the sample, as for short windows.
            var endSecondIsFine = state.Fine.Count > 0 && state.Fine.Peek().StartMs <= lastSecond * 1000;
            var head = state.HeadOf(span.StartMs);
            var drops = new List<DropBucket>();
            foreach (var (second, sums) in state.Drops.Range(firstSecond, endSecondIsFine ? lastSecond - 1 : lastSecond))
                foreach (var (id, sum) in sums)
                {
                    var k = state.Sites[id];
                    // The first second starts at the first sample: its drops before that sample are the span before.
                    var (startMs, count) = second == firstSecond ? (span.StartMs, sum - head.GetValueOrDefault(id)) : (second * 1000, sum);
                    if (count > 0) drops.Add(new DropBucket(k.Site, k.Function, k.Reason, startMs, count, state.SiteProtocols[id], k.Netns, state.NetnsNames.GetValueOrDefault(k.Netns)));
                }
            if (endSecondIsFine)
                drops.AddRange(state.Fine.Where(d => d.StartMs >= Math.Max(lastSecond * 1000, span.StartMs) && d.StartMs < span.EndMs)
                    .GroupBy(d => (d.Site, d.Function, d.Reason, d.Protocol, d.Netns))
                    .Select(g => new DropBucket(g.Key.Site, g.Key.Function, g.Key.Reason, Math.Max(lastSecond * 1000, span.StartMs), g.Sum(d => d.Count), g.Key.Protocol,
                        g.Key.Netns, state.NetnsNames.GetValueOrDefault(g.Key.Netns))));
            return new LiveExplainInput(drops, counters.Where(span.Holds).ToList(), 1000, span);
        });

    private static SiteTotal Total(HostState state, SiteKey key, long count) =>
        new(key.Function, key.Site, key.Reason, key.Protocol, count, key.Netns, key.Netns == 0 ? null : state.NetnsNames.GetValueOrDefault(key.Netns));

    private static long[] Seconds(long from, long to)
    {
        var seconds = new long[to - from + 1];
        for (var i = 0; i < seconds.Length; i++) seconds[i] = from + i;
        return seconds;
    }

    private static bool Keeps(DropFilter filter, SiteKey key) => filter.Matches(key.Site, key.Reason, key.Protocol, key.Netns);

    private Dictionary<int, long> SumBySite(HostState state, TimeSpan window, DropFilter filter)
    {
        var totals = new Dictionary<int, long>();
        var (from, to) = Range(state, window);
        foreach (var (_, sums) in state.Drops.Range(from, to))
            foreach (var (id, count) in sums)
                if (ReferenceEquals(filter, DropFilter.None) || Keeps(filter, state.Sites[id]))
                    totals[id] = totals.GetValueOrDefault(id) + count;
        return totals;
    }

    // The window ends now, or at the host's newest data when its clock runs ahead of ours.
    private (long From, long To) Range(HostState state, TimeSpan window)
    {
        var to = Math.Max(clock.GetUtcNow().ToUnixTimeSeconds(), state.LatestSecond);
        return (to - (long)Math.Ceiling(window.TotalSeconds) + 1, to);
    }

    private T Read<T>(string hostId, T unknown, Func<HostState, T> read) =>
        _hosts.TryGetValue(hostId, out var state) ? Locked(state, read) : unknown;

    private static T Locked<T>(HostState state, Func<HostState, T> read)
    {
        lock (state) return read(state);
    }

    private sealed class HostState
    {
        public AgentHello Hello = null!;
        public bool Connected;
        public DateTimeOffset? LastBatch;
        public long LostRecords;
        public AgentLoss Discarded = AgentLoss.None;
        public long LatestSecond;
        public readonly SecondRing Drops = new((int)Keep.TotalSeconds);
        public readonly SecondRing Counters = new((int)Keep.TotalSeconds);
        public readonly Queue<DropBucket> Fine = new();
        public readonly Queue<CounterDelta> FineCounters = new();
        /// <summary>Times of the counter samples that carried a rise: the edges a window of the explanation may have.</summary>
        public readonly SortedSet<long> Samples = [];
        public long LatestBatchMs;
        public readonly List<SiteKey> Sites = [];
        /// <summary>The EtherType of each site key, whose <see cref="SiteKey.Protocol"/> is its name.</summary>
        public readonly List<ushort> SiteProtocols = [];
        public readonly List<(string Name, uint Netns)> CounterNames = [];
        private readonly Dictionary<SiteKey, int> _siteIds = [];
        private readonly Dictionary<(string Name, uint Netns), int> _counterIds = [];
        /// <summary>Network namespaces seen (bpf source) and their names, the latest the agent sent; at most <see cref="MaxNamespaces"/>.</summary>
        public readonly Dictionary<uint, string?> NetnsNames = [];

        public void NameNetns(uint netns, string? name)
        {
            if (NetnsNames.TryGetValue(netns, out var known) ? name is null || name == known : NetnsNames.Count >= MaxNamespaces) return;
            NetnsNames[netns] = name ?? known;
        }
        public readonly Dictionary<string, string> Texts = new(StringComparer.Ordinal);
        /// <summary>Names in the order their text was last set: past <see cref="ImportLimits.MaxCounterTextsPerHost"/> the stalest goes.</summary>
        private readonly LinkedList<string> _textOrder = new();
        private readonly Dictionary<string, LinkedListNode<string>> _textNodes = new(StringComparer.Ordinal);

        public void SetText(string name, string text)
        {
            Texts[name] = text;
            if (_textNodes.Remove(name, out var node)) _textOrder.Remove(node);
            _textNodes[name] = _textOrder.AddLast(name);
            while (_textOrder.Count > ImportLimits.MaxCounterTextsPerHost)
            {
                var stalest = _textOrder.First!.Value;
                _textOrder.RemoveFirst();
                _textNodes.Remove(stalest);
                Texts.Remove(stalest);
            }
        }

        /// <summary>
        /// For each sample older than <see cref="FineKeep"/>, the drops of its second that came before it, by site: the
        /// per-second sums cannot be split at a sample, so a long window starting at one takes these off its first second.
        /// Filled as the 10 ms buckets age out, when every sample of their second has arrived.
        /// </summary>
        public readonly Dictionary<long, Dictionary<int, long>> Heads = [];

        public void KeepHead(DropBucket drop)
        {
            var secondEndMs = drop.StartMs / 1000 * 1000 + 999;
            if (drop.StartMs >= secondEndMs) return;
            var samples = Samples.GetViewBetween(drop.StartMs + 1, secondEndMs);
            if (samples.Count == 0) return;
            var id = SiteId(new SiteKey(drop.Function, drop.Site, drop.Reason, EtherType.Name(drop.Protocol), drop.Netns), drop.Protocol);
            foreach (var sample in samples)
            {
                if (!Heads.TryGetValue(sample, out var head)) Heads[sample] = head = [];
                head[id] = head.GetValueOrDefault(id) + drop.Count;
            }
        }

        /// <summary>The drops of the sample's second before it, by site: those aged out (<see cref="Heads"/>) and those still in 10 ms buckets.</summary>
        public Dictionary<int, long> HeadOf(long sampleMs)
        {
            var secondMs = sampleMs / 1000 * 1000;
            var head = new Dictionary<int, long>(Heads.GetValueOrDefault(sampleMs) ?? []);
            foreach (var d in Fine)
                if (d.StartMs >= secondMs && d.StartMs < sampleMs)
                {
                    var id = SiteId(new SiteKey(d.Function, d.Site, d.Reason, EtherType.Name(d.Protocol), d.Netns), d.Protocol);
                    head[id] = head.GetValueOrDefault(id) + d.Count;
                }
            return head;
        }

        public int SiteId(SiteKey key, ushort protocol)
        {
            if (_siteIds.TryGetValue(key, out var id)) return id;
            Sites.Add(key);
            SiteProtocols.Add(protocol);
            return _siteIds[key] = Sites.Count - 1;
        }

        public int CounterId(string name, uint netns)
        {
            if (_counterIds.TryGetValue((name, netns), out var id)) return id;
            CounterNames.Add((name, netns));
            return _counterIds[(name, netns)] = CounterNames.Count - 1;
        }
    }
}
