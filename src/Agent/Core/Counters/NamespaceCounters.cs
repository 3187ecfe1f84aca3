using DropBoard.Agent.Namespaces;
using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Counters;

/// <summary>
/// Counters per network namespace, for a source whose drops say which namespace they happened in (bpf): the agent's
/// own sampler (its namespace, or <c>--netns</c>), and one more for each other namespace that drops, and for every
/// <c>ip netns</c> namespace from the start, so that their first drops already have a baseline. Every delta is stamped
/// with its namespace's inode, so that a namespace's counters are held only to that namespace's drops. At most
/// <see cref="MaxNamespaces"/> besides the agent's own; past that, and for namespaces it may not join, it says so once.
/// </summary>
public sealed class NamespaceCounters : IDisposable
{
    public const int MaxNamespaces = 32;

    private readonly CounterSampler _main;
    private readonly NetNamespaceDirectory _directory;
    private readonly Dictionary<uint, CounterSampler?> _others = [];
    private readonly List<string> _problems = [];
    private long _lastSampleMs;

    public NamespaceCounters(CounterSampler main, NetNamespaceDirectory directory)
    {
        _main = main;
        _directory = directory;
        MainInode = (uint)main.NamespaceInode;
        foreach (var named in directory.Named())
            if (named.Inode != MainInode) Open(named.Inode);
    }

    /// <summary>Inode of the namespace the agent's own sampler reads (it may be replaced under its name).</summary>
    public uint MainInode { get; private set; }

    public IReadOnlyList<string> Problems
    {
        get
        {
            lock (_problems) return [.. _main.Problems, .. _problems, .. _others.Values.OfType<CounterSampler>().SelectMany(s => s.Problems)];
        }
    }

    /// <summary>Its <c>ip netns</c> name or container id, null when it has none or is gone.</summary>
    public string? NameOf(uint inode) => inode == 0 ? null : _directory.Find(inode)?.Name;

    /// <summary>Starts reading the counters of the namespaces among <paramref name="drops"/> not read yet.</summary>
    public void Watch(IReadOnlyList<DropBucket> drops)
    {
        foreach (var d in drops)
            if (d.Netns != 0 && d.Netns != MainInode && !_others.ContainsKey(d.Netns)) Open(d.Netns);
    }

    /// <summary>
    /// Reads the other namespaces' counters now, just before the agent's own sampler's read, which the source brackets
    /// by map reads (<see cref="Capture.IDropSource.SampleCounters"/>): that bracket stays one namespace's read long, so
    /// the agent's namespace stays exact under a flood; another namespace may carry a drop that came during its own
    /// read (microseconds) to the other side of the sample.
    /// </summary>
    public void ReadOthers()
    {
        foreach (var sampler in _others.Values) sampler?.Read();
    }

    /// <summary>Every namespace's deltas from the previous sample to its last read, each stamped with its inode.</summary>
    public IReadOnlyList<CounterDelta> Commit(long atUnixMs)
    {
        _lastSampleMs = atUnixMs;
        MainInode = (uint)_main.NamespaceInode;
        var deltas = new List<CounterDelta>();
        foreach (var d in _main.Commit(atUnixMs)) deltas.Add(d with { Netns = MainInode });
        foreach (var (netns, sampler) in _others)
            if (sampler is not null)
                foreach (var d in sampler.Commit(atUnixMs)) deltas.Add(d with { Netns = netns });
        return deltas;
    }

    private void Open(uint inode)
    {
        if (_others.Count >= MaxNamespaces)
        {
            Report($"more than {MaxNamespaces} network namespaces drop: the counters of namespace {inode} are not read");
            Keep(inode, null);
            return;
        }
        if (_directory.Find(inode) is not { } found)
        {
            // Gone before it could be joined (a short-lived container): its drops stay, its counters cannot be read.
            Report($"network namespace {inode} was not found (gone?): its counters are not read");
            Keep(inode, null);
            return;
        }
        try
        {
            var sampler = new CounterSampler(found.Path, machineWide: false);
            // The baseline now, so its next sample's deltas start here (drops before this are not held to them).
            sampler.Sample(_lastSampleMs);
            Keep(inode, sampler);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or IOException)
        {
            Report($"the counters of network namespace {found.Name ?? inode.ToString()} cannot be read: {e.Message}");
            Keep(inode, null);
        }
    }

    // Problems may be read from another thread (the start lines) while the batching thread adds a namespace.
    private void Keep(uint inode, CounterSampler? sampler)
    {
        lock (_problems) _others[inode] = sampler;
    }

    private void Report(string problem)
    {
        lock (_problems)
            if (_problems.Count < 100 && !_problems.Contains(problem)) _problems.Add(problem);
    }

    public void Dispose()
    {
        foreach (var sampler in _others.Values) sampler?.Dispose();
        _main.Dispose();
    }
}
