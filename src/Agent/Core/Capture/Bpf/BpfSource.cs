using System.Diagnostics;
using System.Runtime.InteropServices;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture.Tracepoint;

namespace DropBoard.Agent.Capture.Bpf;

/// <summary>
/// Drops counted in the kernel by an eBPF program on <c>tp_btf/kfree_skb</c> (kfree_skb.bpf.c, loaded through
/// libbpf): a per-CPU hash of (location, reason, protocol, network namespace) read once per bucket period and around each counter sample. No record
/// per drop crosses to user space, so a flood costs the agent one map read per bucket, and nothing can be lost but
/// keys that find the map full, which the program counts (<see cref="LostRecords"/>). With a flow rate cap, the
/// program also sends up to that many dropped packets' headers a second through a ring buffer, read with the map
/// (<see cref="Flows"/>), and counts per key how many drops it sampled, so the rest are known exactly. With --stacks,
/// it also counts each key's drops per kernel stack (<see cref="Paths"/>), read with the map.
/// </summary>
public sealed unsafe class BpfSource : IDropSource, IFreeCounting
{
    internal const string ObjectResource = "DropBoard.Agent.Capture.Bpf.kfree_skb.bpf.o";
    private const int BatchKeys = 1024;

    private nint _object;
    private nint _link, _freeLink;
    private int _freesFd = -1;
    private readonly List<(ulong Location, long Delta)> _freshFrees = [];
    private readonly int _dropsFd, _overflowFd;
    private int _pathsFd = -1, _pathOverflowFd = -1, _stacksFd = -1;
    private readonly Dictionary<int, ulong[]> _stackFrames = [];
    private long _pathOverflow, _dropsRead, _pathDropsRead;
    private readonly IReadOnlyDictionary<int, string> _reasonNames;
    private long _overflow, _corrupt;
    private nint _ring;
    private GCHandle _self;
    private readonly byte[] _keys, _values;
    private readonly Lock _readGate = new();
    private (DropAggregator Aggregator, Dictionary<uint, int> ReasonIds)? _reader;
    private readonly List<(DropKey Key, long Delta, long Sampled)> _fresh = [];
    private const int MaxSampleAttempts = 5;

    public string Name => "bpf";

    /// <summary>Drops the program could not count because its map was full (cumulative).</summary>
    public long LostRecords => Interlocked.Read(ref _overflow);

    /// <summary>Flow records that could not be read (truncated, a version this agent does not know), cumulative.</summary>
    public long CorruptRecords => Interlocked.Read(ref _corrupt);

    /// <summary>The highest flow rate cap <see cref="Open"/> takes (samples a second): the ring holds a third of a second of it.</summary>
    public const int MaxFlowsPerSecond = 10_000;

    /// <summary>Whether normal frees (consume_skb) are counted too (<c>--consume</c>), into <see cref="Frees"/>.</summary>
    public bool CapturesFrees => _freeLink != 0;

    public DropAggregator? Frees { get; set; }

    /// <summary>Sampled dropped flows since the last flush; null when the source samples none.</summary>
    public FlowTable? Flows { get; }

    public bool KnowsNamespaces => true;

    /// <summary>The kernel stacks that led to each site's drops since the last flush (<c>--stacks</c>); null without.</summary>
    public PathTable? Paths { get; private set; }

    /// <summary>Drops whose path could not be counted because the path map was full (cumulative); they are in the drop counts.</summary>
    public long PathsLost => Interlocked.Read(ref _pathOverflow);

    public string? LastError { get; private set; }

    /// <summary>The map's cumulative counts per key, namespace included, as of the last read.</summary>
    public DropMapDeltas Counts { get; }

    private BpfSource(nint obj, int dropsFd, int overflowFd, IReadOnlyDictionary<int, string> reasonNames, bool flows)
    {
        _object = obj;
        Flows = flows ? new FlowTable() : null;
        _dropsFd = dropsFd;
        _overflowFd = overflowFd;
        _reasonNames = reasonNames;
        Counts = new DropMapDeltas(LibBpf.PossibleCpus());
        _keys = new byte[BatchKeys * DropKey.Size];
        _values = new byte[BatchKeys * Counts.Cpus * DropMapDeltas.ValueSize];
    }

    /// <summary>Loads and attaches the program; says why not (and what to do) when the kernel or process cannot.</summary>
    /// <param name="objectBytes">The compiled program; the one embedded in this library when null.</param>
    /// <param name="flowsPerSecond">Dropped packets' headers sampled a second at most, 0 for none (up to <see cref="MaxFlowsPerSecond"/>).</param>
    /// <param name="consume">Also count normal frees (consume_skb) per location, apart from drops.</param>
    /// <param name="stacks">Also count each site's drops per kernel stack (<see cref="Paths"/>).</param>
    public static BpfSource Open(byte[]? objectBytes = null, int flowsPerSecond = 0, bool consume = false, bool stacks = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(flowsPerSecond);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(flowsPerSecond, MaxFlowsPerSecond);
        const string btf = "/sys/kernel/btf/vmlinux";
        if (!File.Exists(btf))
            throw new CaptureUnavailableException($"the kernel has no BTF ({btf} is missing)", "use a kernel built with CONFIG_DEBUG_INFO_BTF, or --source netdm/tracepoint");
        objectBytes ??= EmbeddedObject();
        try
        {
            LibBpf.CaptureMessages();
        }
        catch (DllNotFoundException)
        {
            throw new CaptureUnavailableException("libbpf.so.1 is not installed", "install libbpf1 (apt install libbpf1)");
        }

        nint obj;
        BpfSource? source = null;
        fixed (byte* bytes = objectBytes)
            obj = LibBpf.ObjectOpenMem(bytes, (nuint)objectBytes.Length, 0);
        if (obj == 0)
            throw Unavailable("the eBPF object could not be opened", Marshal.GetLastPInvokeError(), "the embedded kfree_skb.bpf.o is damaged: rebuild it with src/Agent/Core/Capture/Bpf/build.sh");
        try
        {
            var freeProgram = LibBpf.FindProgram(obj, "count_free");
            if (freeProgram != 0) LibBpf.SetAutoload(freeProgram, consume ? (byte)1 : (byte)0);
            ConfigureStacks(obj, stacks);
            var loaded = LibBpf.ObjectLoad(obj);
            if (loaded < 0)
                throw Unavailable("the kernel refused the eBPF program", -loaded, -loaded is 1 or 13
                    ? "run as root or with CAP_BPF and CAP_PERFMON (a locked-down kernel refuses it even then)"
                    : "the kernel may be older than 5.17 (kfree_skb without a reason) or lack tp_btf; use --source netdm/tracepoint");
            // The maps are created by this load, empty: every count in them is this run's.
            source = new BpfSource(obj, LibBpf.FindMapFd(obj, "drops"), LibBpf.FindMapFd(obj, "overflow"), ReasonNames(), flowsPerSecond > 0);
            if (stacks)
            {
                (source._pathsFd, source._pathOverflowFd, source._stacksFd) = (LibBpf.FindMapFd(obj, "paths"), LibBpf.FindMapFd(obj, "path_overflow"), LibBpf.FindMapFd(obj, "stacks"));
                source.Paths = new PathTable();
            }
            if (flowsPerSecond > 0) source.StartFlows(LibBpf.FindMapFd(obj, "flow_cap"), LibBpf.FindMapFd(obj, "flows"), (ulong)flowsPerSecond);
            var program = LibBpf.FindProgram(obj, "count_drop");
            source._link = program == 0 ? 0 : LibBpf.ProgramAttach(program);
            if (source._link == 0)
                throw Unavailable("the eBPF program could not be attached to kfree_skb", Marshal.GetLastPInvokeError(), "use --source netdm/tracepoint");
            if (consume)
            {
                source._freesFd = LibBpf.FindMapFd(obj, "frees");
                source._freeLink = freeProgram == 0 ? 0 : LibBpf.ProgramAttach(freeProgram);
                if (source._freeLink == 0)
                    throw Unavailable("the eBPF program could not be attached to consume_skb", Marshal.GetLastPInvokeError(), "use --source tracepoint with --consume");
            }
            return source;
        }
        catch
        {
            if (source is null) LibBpf.ObjectClose(obj);
            else source.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Turns the program's stack counting on (its read-only flag, so the verifier keeps the branch), or leaves it off
    /// and shrinks the stack and path maps to one entry each, so a run without --stacks pays neither time nor memory.
    /// </summary>
    private static void ConfigureStacks(nint obj, bool on)
    {
        int result;
        if (on)
        {
            var flag = LibBpf.FindMap(obj, ".rodata.stacks");
            byte one = 1;
            result = flag == 0 ? -2 : LibBpf.SetInitialValue(flag, &one, 1);
        }
        else
        {
            var (stackMap, pathMap) = (LibBpf.FindMap(obj, "stacks"), LibBpf.FindMap(obj, "paths"));
            result = stackMap == 0 || pathMap == 0 ? -2 : Math.Min(LibBpf.SetMaxEntries(stackMap, 1), LibBpf.SetMaxEntries(pathMap, 1));
        }
        if (result < 0) throw Unavailable("the eBPF object's stack maps could not be set up", -result, "the embedded kfree_skb.bpf.o is damaged: rebuild it with src/Agent/Core/Capture/Bpf/build.sh");
    }

    /// <summary>Sets the program's rate cap and opens the ring reader, before the program is attached.</summary>
    private void StartFlows(int capFd, int ringFd, ulong perSecond)
    {
        var zero = 0u;
        var updated = LibBpf.MapUpdate(capFd, &zero, &perSecond, 0);
        if (updated < 0) throw Unavailable("the flow rate cap could not be set", -updated, "run without --flows");
        _self = GCHandle.Alloc(this);
        _ring = LibBpf.RingBufferNew(ringFd, &OnFlowRecord, GCHandle.ToIntPtr(_self), 0);
        if (_ring == 0) throw Unavailable("the flow ring could not be opened", Marshal.GetLastPInvokeError(), "run without --flows");
    }

    [UnmanagedCallersOnly]
    private static int OnFlowRecord(nint context, void* data, nuint size)
    {
        var source = (BpfSource)GCHandle.FromIntPtr(context).Target!;
        source.TakeFlow(new ReadOnlySpan<byte>(data, (int)Math.Min(size, int.MaxValue)));
        return 0;
    }

    private void TakeFlow(ReadOnlySpan<byte> bytes)
    {
        if (!FlowRecord.TryRead(bytes, out var r, out var problem))
        {
            Interlocked.Increment(ref _corrupt);
            LastError = $"a flow record was skipped: {problem}";
            return;
        }
        Flows!.Add(r.Location, r.Netns, r.IpProtocol, r.Source, r.SourcePort, r.Destination, r.DestinationPort, r.Ifindex);
    }

    public void Run(DropAggregator aggregator, IDropSampleSink samples, CancellationToken cancellationToken)
    {
        Dictionary<uint, int> reasonIds;
        lock (_readGate) reasonIds = ReasonIdsFor(aggregator);
        var period = TimeSpan.FromMilliseconds(aggregator.BucketMs);
        var clock = Stopwatch.StartNew();
        var next = period;
        while (!cancellationToken.IsCancellationRequested)
        {
            var wait = next - clock.Elapsed;
            if (wait > TimeSpan.Zero) cancellationToken.WaitHandle.WaitOne(wait);
            next += period;
            if (next < clock.Elapsed) next = clock.Elapsed + period; // a stall: keep the period, do not catch up in a burst
            lock (_readGate) Read(aggregator, reasonIds);
        }
        lock (_readGate)
        {
            LibBpf.LinkDestroy(_link);
            _link = 0;
            if (_freeLink != 0) LibBpf.LinkDestroy(_freeLink);
            _freeLink = 0;
            Read(aggregator, reasonIds);
        }
    }

    /// <summary>
    /// The map is read before the counters and again after them; drops in the counters' namespace between the two
    /// reads may or may not be in the counters, so then the counters are read again (a few times at most: under a
    /// flood in that namespace some drop always comes, and the sample is off by the drops of one read). Drops are
    /// stamped when they are read, so the cut goes between the first map read and the counter read. The gate keeps
    /// the capture thread's reads out meanwhile, and the aggregator's capture-side state to one thread at a time.
    /// </summary>
    public long SampleCounters(DropAggregator aggregator, Action readCounters, ulong netnsInode)
    {
        lock (_readGate)
        {
            var reasonIds = ReasonIdsFor(aggregator);
            Read(aggregator, reasonIds);
            for (var attempt = 1; ; attempt++)
            {
                var cut = Now();
                readCounters();
                var readAt = ReadMap();
                var settled = !_fresh.Exists(d => d.Key.Netns == netnsInode);
                if (settled || attempt == MaxSampleAttempts)
                    aggregator.CutAt(cut); // what came during the read (elsewhere, or past the last attempt) goes after the sample
                Feed(aggregator, reasonIds, readAt);
                if (settled || attempt == MaxSampleAttempts) return cut;
            }
        }
    }

    /// <summary>What the kernel holds for one of the program's maps: its size and whether any entry is in it (tests, diagnostics).</summary>
    internal (uint MaxEntries, bool Empty) MapState(string name)
    {
        var fd = LibBpf.FindMapFd(_object, name);
        if (fd < 0) throw new InvalidOperationException($"the program has no map {name}");
        var info = stackalloc byte[64]; // struct bpf_map_info: type, id, key_size, value_size, max_entries, ...
        new Span<byte>(info, 64).Clear();
        var length = 64u;
        if (LibBpf.ObjectInfo(fd, info, &length) is < 0 and var failed) throw new InvalidOperationException($"map {name}: {LibBpf.Describe(-failed)}");
        var key = stackalloc byte[256];
        return (*(uint*)(info + 16), LibBpf.MapNextKey(fd, null, key) == -2);
    }

    private long Now() => ((IDropSource)this).NowUnixNs();

    private Dictionary<uint, int> ReasonIdsFor(DropAggregator aggregator)
    {
        if (_reader is var (reader, ids) && ReferenceEquals(reader, aggregator)) return ids;
        ids = _reasonNames.ToDictionary(r => (uint)r.Key, r => aggregator.Reasons.Intern(r.Value));
        _reader = (aggregator, ids);
        return ids;
    }

    private void Read(DropAggregator aggregator, Dictionary<uint, int> reasonIds) => Feed(aggregator, reasonIds, ReadMap());

    /// <summary>The drop map's descriptor: the map-read benchmark fills it with keys from user space.</summary>
    internal int DropsMapFd => _dropsFd;

    /// <summary>Reads the map into <see cref="_fresh"/> (the drops since the last read) and returns when the read began.</summary>
    internal long ReadMap()
    {
        var now = Now();
        _fresh.Clear();
        var valueSize = Counts.Cpus * DropMapDeltas.ValueSize;
        LookupAll(_dropsFd, "drop", DropKey.Size, valueSize, i =>
        {
            var key = DropKey.Read(_keys.AsSpan(i * DropKey.Size, DropKey.Size));
            var (delta, sampled) = Counts.Update(key, _values.AsSpan(i * valueSize, valueSize));
            if (delta != 0 || sampled != 0) _fresh.Add((key, delta, sampled));
            _dropsRead += delta;
        });
        ReadCount(_overflowFd, ref _overflow);
        if (_freesFd >= 0) ReadFrees();
        // Every drop the program counts it also counts on a path (or as a path lost): while the paths read so far are
        // all the drops read so far, none is new, and a quiet host is spared the path map's read.
        if (Paths is not null && _pathDropsRead + PathsLost < _dropsRead) ReadPaths();
        // After the map: every record the map counts as sampled so far is in the ring by now.
        if (_ring != 0 && LibBpf.RingBufferConsume(_ring) is < 0 and var failed)
            LastError = $"reading the flow ring failed: {LibBpf.Describe(-failed)}";
        return now;
    }

    /// <summary>Reads the frees map into <see cref="_freshFrees"/> (the frees since the last read).</summary>
    private void ReadFrees()
    {
        _freshFrees.Clear();
        var valueSize = Counts.Cpus * 8;
        LookupAll(_freesFd, "frees", 8, valueSize, i =>
        {
            var location = BitConverter.ToUInt64(_keys, i * 8);
            var delta = Counts.UpdateFrees(location, _values.AsSpan(i * valueSize, valueSize));
            if (delta != 0) _freshFrees.Add((location, delta));
        });
    }

    /// <summary>Reads the path map into <see cref="Paths"/> (the drops on each path since the last read), with each new stack's frames.</summary>
    private void ReadPaths()
    {
        var valueSize = Counts.Cpus * 8;
        LookupAll(_pathsFd, "path", PathKey.Size, valueSize, i =>
        {
            var key = PathKey.Read(_keys.AsSpan(i * PathKey.Size, PathKey.Size));
            var delta = Counts.UpdatePaths(key, _values.AsSpan(i * valueSize, valueSize));
            if (delta != 0) Paths!.Add(key.Location, key.Netns, key.StackId, FramesOf(key.StackId), delta);
            _pathDropsRead += delta;
        });
        ReadCount(_pathOverflowFd, ref _pathOverflow);
    }

    /// <summary>A stack's addresses, read from the kernel once: ids are never reused (no BPF_F_REUSE_STACKID), so the cache stays true.</summary>
    private ulong[]? FramesOf(int stackId)
    {
        if (stackId < 0) return null;
        if (_stackFrames.TryGetValue(stackId, out var frames)) return frames;
        var value = stackalloc byte[KernelStack.ValueSize];
        var result = LibBpf.MapLookup(_stacksFd, &stackId, value);
        if (result < 0)
        {
            LastError = $"reading stack {stackId} failed: {LibBpf.Describe(-result)}";
            return [];
        }
        return _stackFrames[stackId] = KernelStack.Read(new ReadOnlySpan<byte>(value, KernelStack.ValueSize));
    }

    /// <summary>Reads every entry of a hash map, in batches into <see cref="_keys"/> and <see cref="_values"/>, handing each entry's index to <paramref name="take"/>.</summary>
    private void LookupAll(int fd, string map, int keySize, int valueSize, Action<int> take)
    {
        ulong batch = 0;
        var first = true;
        fixed (byte* k = _keys, v = _values)
            while (true)
            {
                var count = (uint)Math.Min(_keys.Length / keySize, _values.Length / valueSize);
                var token = batch;
                var result = LibBpf.MapLookupBatch(fd, first ? null : &token, &batch, k, v, &count, 0);
                first = false;
                for (var i = 0; i < count; i++) take(i);
                if (result == -2) break; // ENOENT: the last batch
                if (result < 0)
                {
                    LastError = $"reading the {map} map failed: {LibBpf.Describe(-result)}";
                    break;
                }
            }
    }

    /// <summary>Reads a per-CPU count (an overflow) into <paramref name="total"/>.</summary>
    private void ReadCount(int fd, ref long total)
    {
        var zero = 0u;
        fixed (byte* v = _values)
            if (LibBpf.MapLookup(fd, &zero, v) == 0)
                Interlocked.Exchange(ref total, (long)Counts.Sum(_values.AsSpan(0, Counts.Cpus * 8)));
    }

    /// <summary>Hands the drops of the last map read to the aggregator, stamped <paramref name="unixNs"/>.</summary>
    private void Feed(DropAggregator aggregator, Dictionary<uint, int> reasonIds, long unixNs)
    {
        foreach (var (key, delta, sampled) in _fresh)
        {
            if (delta != 0) aggregator.Add(key.Location, ReasonId(aggregator, reasonIds, key.Reason), unixNs, delta, key.Protocol, key.Netns);
            Flows?.AddSampling(key.Location, key.Netns, delta, sampled);
        }
        _fresh.Clear();
        aggregator.Commit();
        if (Frees is { } frees && _freshFrees.Count > 0)
        {
            foreach (var (location, delta) in _freshFrees) frees.Add(location, DropReasonTable.None, unixNs, delta);
            _freshFrees.Clear();
            frees.Commit();
        }
    }

    // A value the print fmt does not name (a distro backport): kept visible rather than folded into another reason.
    private static int ReasonId(DropAggregator aggregator, Dictionary<uint, int> ids, uint value)
    {
        if (!ids.TryGetValue(value, out var id))
            ids[value] = id = aggregator.Reasons.Intern($"REASON_{value}");
        return id;
    }

    /// <summary>Reason names from the tracepoint's print fmt, as the tracepoint source names them; none without tracefs.</summary>
    private static IReadOnlyDictionary<int, string> ReasonNames()
    {
        try
        {
            return Tracefs.ReadFormat(Tracefs.Locate(), "skb", "kfree_skb").ReasonNames;
        }
        catch (CaptureUnavailableException)
        {
            return new Dictionary<int, string>();
        }
    }

    private static byte[] EmbeddedObject()
    {
        using var stream = typeof(BpfSource).Assembly.GetManifestResourceStream(ObjectResource)
            ?? throw new CaptureUnavailableException("the eBPF object is not embedded in this build", "rebuild the agent from a full clone");
        var bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return bytes;
    }

    private static CaptureUnavailableException Unavailable(string what, int errno, string fix)
    {
        var log = LibBpf.TakeWarnings();
        return new CaptureUnavailableException($"{what} ({LibBpf.Describe(errno)}{(log.Length == 0 ? "" : $"; libbpf: {log}")})", fix);
    }

    public void Dispose()
    {
        if (_link != 0) LibBpf.LinkDestroy(_link);
        _link = 0;
        if (_freeLink != 0) LibBpf.LinkDestroy(_freeLink);
        _freeLink = 0;
        if (_ring != 0) LibBpf.RingBufferFree(_ring);
        _ring = 0;
        if (_self.IsAllocated) _self.Free();
        if (_object != 0) LibBpf.ObjectClose(_object);
        _object = 0;
    }
}
