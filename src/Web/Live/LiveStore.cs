using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Packets;

using DropBoard.Web.Sessions.Import;
using DropBoard.Web.Views;

namespace DropBoard.Web.Live;

/// <summary>A host as the dashboard lists it.</summary>
/// <param name="LostRecordsFix">What the agent says to raise when its source loses records, with the value now (<see cref="AgentHello.LostRecordsFix"/>).</param>
public sealed record HostStatus(
    string HostId, string HostName, string KernelRelease, string Source, bool Connected, DateTimeOffset? LastBatch,
    long LostRecords, long DropsLastMinute, IReadOnlyList<FunctionRate> TopFunctions, AgentLoss Discarded, string? LostRecordsFix = null);

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

/// <summary>A 10 ms bucket as the live store keeps it: its site by id.</summary>
internal readonly record struct FineDrop(long StartMs, long Count, int SiteId);

/// <summary>A counter rise as the live store keeps it: its name by id.</summary>
internal readonly record struct FineCounter(long AtMs, long Delta, int CounterId);

/// <summary>The drops and counter rises of one span between counter samples (none without a span), for the explanation.</summary>
public sealed record LiveExplainInput(List<DropBucket> Drops, List<CounterDelta> Counters, int BucketMs, SampleSpan? Span);

/// <summary>
/// The last minutes of every host in memory. Drops and counters are summed per second in fixed rings
/// (<see cref="Keep"/>), so memory and query cost do not grow with the drop rate; the last
/// <see cref="FineKeep"/> of 10 ms buckets is kept as well, for bursts and lead/lag, as site and counter ids in
/// rings that share one bound across all hosts (<see cref="FineBudget"/>): a fleet gets each host a shorter stretch of
/// them, never more memory. Explain reads per-second sums where a host's 10 ms buckets do not reach back far enough.
/// Each host has its own lock, so agents do not wait for each other. <see cref="Changed"/> tells pages to refresh.
/// </summary>
public sealed class LiveStore(TimeProvider clock, int fineBudget = LiveStore.DefaultFineBudget) : IBatchListener, IAgentPresence
{
    public static readonly TimeSpan Keep = TimeSpan.FromMinutes(15);
    public static readonly TimeSpan FineKeep = TimeSpan.FromMinutes(2);
    /// <summary>The window of the host list's drops and top functions.</summary>
    private static readonly TimeSpan LastMinute = TimeSpan.FromMinutes(1);
    private const int MaxNamespaces = 1024;

    /// <summary>10 ms buckets (and as many counter rises) kept across all hosts: 24 bytes each, ~100 MB each kind.</summary>
    public const int DefaultFineBudget = 4_000_000;

    /// <summary>However many hosts share the budget, each keeps at least this many.</summary>
    private const int MinFinePerHost = 1000;

    /// <summary>The smallest budget the setting may ask for.</summary>
    public const int MinFineBudget = 100_000;

    /// <summary>The largest budget the setting may ask for: ~2.4 GB of each kind.</summary>
    public const int MaxFineBudget = 100_000_000;

    public int FineBudget { get; } = fineBudget;

    /// <summary>The time the store's windows end at (unless a host's clock runs ahead).</summary>
    public DateTimeOffset Now => clock.GetUtcNow();

    private readonly ConcurrentDictionary<string, HostState> _hosts = new();

    /// <summary>Raised with the host's id after each accepted batch (on the ingesting thread: subscribers must not block).</summary>
    public event Action<string>? Changed;

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
            foreach (var d in batch.Drops) state.LatestSecond = Math.Max(state.LatestSecond, d.StartMs / 1000);
            // Before the ring takes this batch: its seconds may reuse the slots of those leaving the minute.
            state.LastMinute.MoveTo(Range(state, LastMinute).From);
            foreach (var d in batch.Drops)
            {
                var id = state.SiteId(d);
                if (d.Netns != 0) state.NameNetns(d.Netns, d.NetnsName);
                if (state.Drops.Add(d.StartMs / 1000, id, d.Count)) state.LastMinute.Added(d.StartMs / 1000, id, d.Count);
                state.Fine.Add(new FineDrop(d.StartMs, d.Count, id));
            }
            if (batch.CounterTexts is { } texts)
                foreach (var (name, text) in texts) state.SetText(name, text);
            foreach (var c in batch.Counters)
            {
                var id = state.CounterId(c.Name, c.Netns);
                if (c.Netns != 0) state.NameNetns(c.Netns, null);
                state.Counters.Add(c.AtMs / 1000, id, c.Delta);
                state.FineCounters.Add(new FineCounter(c.AtMs, c.Delta, id));
                state.AddSample(c.AtMs);
            }
            state.LatestBatchMs = Math.Max(state.LatestBatchMs, batch.SentAtMs);
            state.TrimFine(state.LatestSecond * 1000 - (long)FineKeep.TotalMilliseconds, Math.Max(MinFinePerHost, FineBudget / _hosts.Count));
            var keepSince = Math.Max(state.LatestSecond * 1000, state.LatestBatchMs) - (long)Keep.TotalMilliseconds - 1000;
            state.TrimSamples(keepSince);
        }
        Changed?.Invoke(host.HostId);
        return ValueTask.CompletedTask;
    }

    /// <summary>An agent's connection ended (the hub calls this); its data stays until it ages out.</summary>
    public void Disconnected(string hostId)
    {
        if (_hosts.TryGetValue(hostId, out var state))
            lock (state) state.Connected = false;
        Changed?.Invoke(hostId);
    }

    /// <summary>Every host with its last minute's drops and top functions, from running totals: no host's minute is read again.</summary>
    public IReadOnlyList<HostStatus> Hosts() =>
        _hosts.Values.Select(state => Locked(state, Status))
            .OrderBy(h => h.HostName, StringComparer.Ordinal).ThenBy(h => h.HostId, StringComparer.Ordinal).ToList();

    /// <summary>One host as <see cref="Hosts"/> lists it, or null: a host page does not read the whole fleet.</summary>
    public HostStatus? Host(string hostId) => Read(hostId, null, Status);

    private HostStatus Status(HostState state)
    {
        state.LastMinute.MoveTo(Range(state, LastMinute).From);
        return new HostStatus(state.Hello.HostId, state.Hello.HostName, state.Hello.KernelRelease, state.Hello.Source,
            state.Connected, state.LastBatch, state.LostRecords, state.LastMinute.Total, state.TopFunctions(3), state.Discarded, state.Hello.LostRecordsFix);
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
            var points = Points(state.Drops, from, to, id => Keeps(filter, state.Sites[id]) ? state.Sites[id].Function : null);
            return TimeSeries.Top(Seconds(from, to), points, top);
        });

    /// <summary>Rises per second of the named counters (the loss counters a page shows), of the filter's namespace when it has one.</summary>
    public TimeSeries CountersOverTime(string hostId, TimeSpan window, IReadOnlyCollection<string> names, DropFilter? filter = null) =>
        Read(hostId, TimeSeries.Empty, state =>
        {
            filter ??= DropFilter.None;
            var (from, to) = Range(state, window);
            var points = Points(state.Counters, from, to, id => filter.MatchesNetns(state.CounterNames[id].Netns) ? state.CounterNames[id].Name : null);
            return TimeSeries.Named(Seconds(from, to), points, [.. names]);
        });

    /// <summary>
    /// What the explanation reads: the drops and counter rises of the span between the counter samples that best
    /// fits the last <paramref name="window"/> (<see cref="SampleSpan.Between"/>). The span ends at the last
    /// sample a later batch followed, so every drop before it has arrived. Drops come as the 10 ms buckets when
    /// the window fits in <see cref="FineKeep"/>, else as per-second sums (bursts then show at one-second
    /// resolution), whose first second leaves out the drops before the first sample (see <see cref="HostState.HeadOf"/>)
    /// and whose last second is taken from the 10 ms buckets up to the last sample: the same span as the rises.
    /// </summary>
    public LiveExplainInput ExplainInput(string hostId, TimeSpan window) =>
        Read(hostId, new LiveExplainInput([], [], 10, null), state =>
        {
            var (from, to) = Range(state, window);
            var windowMs = (long)Math.Ceiling(window.TotalMilliseconds);
            // One interval more than the window, so that a span near its length can start before the window does.
            var fromMs = from * 1000 - 1500;
            var toMs = Math.Min(to * 1000 + 999, state.LatestBatchMs - 1);
            var span = SampleSpan.Between(state.Samples, fromMs, toMs, windowMs);
            if (span is null) return new LiveExplainInput([], [], state.Hello.BucketMs, null);
            if (window <= FineKeep && span.StartMs >= state.FineCompleteFromMs)
                return new LiveExplainInput(
                    // Narrowed by time before the records are made; the span's own rule has the last word on its edges.
                    state.Fine.Where(d => d.StartMs >= span.StartMs && d.StartMs <= span.EndMs).Select(state.Bucket).Where(span.Holds).ToList(),
                    state.FineCounters.Where(c => c.AtMs >= span.StartMs && c.AtMs <= span.EndMs).Select(state.Delta).Where(span.Holds).ToList(),
                    state.Hello.BucketMs, span);
            // Per-second sums stamp a second's rises at its last sample, and its head is kept for that sample only: so
            // only a second's last sample can be an edge here.
            span = SampleSpan.Between(state.LastSampleOfEachSecond(fromMs, toMs), fromMs, toMs, windowMs);
            if (span is null) return new LiveExplainInput([], [], 1000, null);
            var (firstSecond, lastSecond) = (span.StartMs / 1000, span.EndMs / 1000);
            var counters = new List<CounterDelta>();
            foreach (var (second, sums) in state.Counters.Range(firstSecond, lastSecond))
            {
                // A second's rises are stamped with its last sample's time: the span's edges are such samples.
                var at = state.LastSampleIn(second) ?? second * 1000 + 999;
                foreach (var (id, delta) in sums)
                    counters.Add(new CounterDelta(state.CounterNames[id].Name, delta, at, state.CounterNames[id].Netns));
            }
            // The end edge is recent: the 10 ms buckets split its second at the sample, as for short windows.
            var endSecondIsFine = state.Fine.Count > 0 && state.Fine.Oldest.StartMs <= lastSecond * 1000 && state.FineCompleteFromMs <= lastSecond * 1000;
            var head = state.HeadOf(span.StartMs);
            var drops = new List<DropBucket>();
            foreach (var (second, sums) in state.Drops.Range(firstSecond, endSecondIsFine ? lastSecond - 1 : lastSecond))
                foreach (var (id, sum) in sums)
                {
                    // The first second starts at the first sample: its drops before that sample are the span before.
                    var (startMs, count) = second == firstSecond ? (span.StartMs, sum - head.GetValueOrDefault(id)) : (second * 1000, sum);
                    if (count > 0) drops.Add(state.Bucket(new FineDrop(startMs, count, id)));
                }
            if (endSecondIsFine)
            {
                var endStartMs = Math.Max(lastSecond * 1000, span.StartMs);
                drops.AddRange(state.Fine.Where(d => d.StartMs >= endStartMs && d.StartMs < span.EndMs)
                    .GroupBy(d => d.SiteId)
                    .Select(g => state.Bucket(new FineDrop(endStartMs, g.Sum(d => d.Count), g.Key))));
            }
            return new LiveExplainInput(drops, counters.Where(span.Holds).ToList(), 1000, span);
        });

    private static SiteTotal Total(HostState state, SiteKey key, long count) =>
        new(key.Function, key.Site, key.Reason, key.Protocol, count, key.Netns, key.Netns == 0 ? null : state.NetnsNames.GetValueOrDefault(key.Netns));

    /// <summary>The ring's sums in [from, to] as chart points (slot = seconds after <paramref name="from"/>), named by id; null leaves one out.</summary>
    private static IEnumerable<(int Slot, string Name, long Value)> Points(SecondRing ring, long from, long to, Func<int, string?> nameOf)
    {
        foreach (var (second, sums) in ring.Range(from, to))
            foreach (var (id, value) in sums)
                if (nameOf(id) is { } name) yield return ((int)(second - from), name, value);
    }

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
        public readonly FineRing<FineDrop> Fine = new();
        /// <summary>Drops of the last minute by function (<see cref="Functions"/>), for the host list.</summary>
        public readonly WindowTotals LastMinute;
        public readonly List<string> Functions = [];
        /// <summary>The function id of each site id.</summary>
        private readonly List<int> _siteFunctions = [];
        private readonly Dictionary<string, int> _functionIds = new(StringComparer.Ordinal);

        public HostState() => LastMinute = new WindowTotals(Drops, _siteFunctions, (int)LiveStore.LastMinute.TotalSeconds);

        /// <summary>The <paramref name="most"/> functions with the most drops in <see cref="LastMinute"/>, as rates; ties by name.</summary>
        public List<FunctionRate> TopFunctions(int most)
        {
            var top = new List<int>(most + 1);
            var sums = LastMinute.Sums;
            for (var f = 0; f < sums.Count; f++)
            {
                if (sums[f] <= 0) continue;
                var at = top.Count;
                while (at > 0 && Before(f, top[at - 1])) at--;
                if (at >= most) continue;
                top.Insert(at, f);
                if (top.Count > most) top.RemoveAt(most);
            }
            return top.ConvertAll(f => new FunctionRate(Functions[f], sums[f] / LiveStore.LastMinute.TotalSeconds));

            bool Before(int a, int b) => sums[a] != sums[b] ? sums[a] > sums[b] : string.CompareOrdinal(Functions[a], Functions[b]) < 0;
        }
        public readonly FineRing<FineCounter> FineCounters = new();

        /// <summary>10 ms buckets from here on are all kept; older ones may have gone to the host's share of <see cref="FineBudget"/>.</summary>
        public long FineCompleteFromMs = long.MinValue;
        /// <summary>Times of the counter samples that carried a rise: the edges a window of the explanation may have.</summary>
        public readonly SortedSet<long> Samples = [];
        /// <summary>The last of <see cref="Samples"/> in each second, found without walking the set (once per bucket).</summary>
        private readonly Dictionary<long, long> _lastSampleOfSecond = [];

        public void AddSample(long atMs)
        {
            Samples.Add(atMs);
            ref var last = ref CollectionsMarshal.GetValueRefOrAddDefault(_lastSampleOfSecond, atMs / 1000, out var seen);
            if (!seen || atMs > last) last = atMs;
        }

        public void TrimSamples(long keepSinceMs)
        {
            while (Samples.Count > 0 && Samples.Min < keepSinceMs)
            {
                var oldest = Samples.Min;
                Samples.Remove(oldest);
                // Samples leave oldest first, so a second's last one leaves with its second.
                if (_lastSampleOfSecond.TryGetValue(oldest / 1000, out var last) && last == oldest) _lastSampleOfSecond.Remove(oldest / 1000);
            }
        }

        public long? LastSampleIn(long second) => _lastSampleOfSecond.TryGetValue(second, out var last) ? last : null;
        public long LatestBatchMs;
        public readonly List<SiteKey> Sites = [];
        /// <summary>The EtherType of each site key, whose <see cref="SiteKey.Protocol"/> is its name.</summary>
        public readonly List<ushort> SiteProtocols = [];
        public readonly List<(string Name, uint Netns)> CounterNames = [];
        private readonly Dictionary<(string Site, string? Reason, ushort Protocol, uint Netns), int> _siteIds = [];
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
        /// For each second whose 10 ms buckets have left the ring, its drops before the second's last counter sample, by
        /// site: the per-second sums cannot be split at a sample, so a long window starting at one takes these off its
        /// first second. One packed second each, as the sums themselves, so a host that sends many samples a second
        /// costs no more than one that sends one.
        /// </summary>
        private readonly SecondRing _heads = new((int)Keep.TotalSeconds);

        private void KeepHead(in FineDrop drop)
        {
            // Before the second's last sample exactly when a sample follows it within its second.
            if (LastSampleIn(drop.StartMs / 1000) is { } last && drop.StartMs < last)
                _heads.Add(drop.StartMs / 1000, drop.SiteId, drop.Count);
        }

        /// <summary>The drops of the second of <paramref name="sampleMs"/> (its last sample) before it, by site: those that left the ring and those still in it.</summary>
        public Dictionary<int, long> HeadOf(long sampleMs)
        {
            var second = sampleMs / 1000;
            var head = new Dictionary<int, long>();
            foreach (var (_, sums) in _heads.Range(second, second))
                foreach (var (id, count) in sums)
                    head[id] = count;
            foreach (var d in Fine.Where(d => d.StartMs >= second * 1000 && d.StartMs < sampleMs))
                head[d.SiteId] = head.GetValueOrDefault(d.SiteId) + d.Count;
            return head;
        }

        /// <summary>The samples in [<paramref name="fromMs"/>, <paramref name="toMs"/>], only the last of each second.</summary>
        public IEnumerable<long> LastSampleOfEachSecond(long fromMs, long toMs)
        {
            if (fromMs > toMs) yield break;
            long? previous = null;
            foreach (var t in Samples.GetViewBetween(fromMs, toMs))
            {
                if (previous is { } p && p / 1000 != t / 1000) yield return p;
                previous = t;
            }
            if (previous is { } last) yield return last;
        }

        public int SiteId(DropBucket d)
        {
            // A site names its function (the hub checks it does), so site, reason, protocol and namespace are the whole key.
            if (_siteIds.TryGetValue((d.Site, d.Reason, d.Protocol, d.Netns), out var id)) return id;
            Sites.Add(new SiteKey(d.Function, d.Site, d.Reason, EtherType.Name(d.Protocol), d.Netns));
            SiteProtocols.Add(d.Protocol);
            if (!_functionIds.TryGetValue(d.Function, out var function))
            {
                Functions.Add(d.Function);
                _functionIds[d.Function] = function = Functions.Count - 1;
            }
            _siteFunctions.Add(function);
            return _siteIds[(d.Site, d.Reason, d.Protocol, d.Netns)] = Sites.Count - 1;
        }

        public DropBucket Bucket(FineDrop d)
        {
            var key = Sites[d.SiteId];
            return new DropBucket(key.Site, key.Function, key.Reason, d.StartMs, d.Count, SiteProtocols[d.SiteId], key.Netns, NetnsNames.GetValueOrDefault(key.Netns));
        }

        public CounterDelta Delta(FineCounter c) => new(CounterNames[c.CounterId].Name, c.Delta, c.AtMs, CounterNames[c.CounterId].Netns);

        /// <summary>Drops 10 ms values older than <paramref name="since"/>, then the oldest past <paramref name="most"/> each.</summary>
        public void TrimFine(long since, int most)
        {
            while (Fine.Count > 0 && Fine.Oldest.StartMs < since) KeepHead(Fine.RemoveOldest());
            while (FineCounters.Count > 0 && FineCounters.Oldest.AtMs < since) FineCounters.RemoveOldest();
            // Batches arrive roughly in time order, not exactly: whatever goes for want of room, no time after it is missing anything.
            while (Fine.Count > most)
            {
                var gone = Fine.RemoveOldest();
                KeepHead(gone);
                FineCompleteFromMs = Math.Max(FineCompleteFromMs, gone.StartMs + 1);
            }
            while (FineCounters.Count > most) FineCompleteFromMs = Math.Max(FineCompleteFromMs, FineCounters.RemoveOldest().AtMs + 1);
            Fine.Shrink();
            FineCounters.Shrink();
        }

        public int CounterId(string name, uint netns)
        {
            if (_counterIds.TryGetValue((name, netns), out var id)) return id;
            CounterNames.Add((name, netns));
            return _counterIds[(name, netns)] = CounterNames.Count - 1;
        }
    }
}
