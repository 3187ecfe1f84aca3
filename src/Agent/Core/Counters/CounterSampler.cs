using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Counters;

/// <summary>
/// Reads /proc/net/{snmp,netstat,snmp6,softnet_stat,dev,stat/nf_conntrack}, and over netlink the device detail,
/// qdisc and nftables rule counters (<see cref="NetlinkCounters"/>), and returns what changed since the last sample.
/// The files are opened once and re-read into reused buffers, and counter names are interned, so reading the
/// files allocates only the deltas returned; the netlink dumps allocate their datagrams. For another network namespace a dedicated thread
/// joins it and opens the files under <c>/proc/thread-self/net</c>: snmp, netstat, snmp6 and dev are that
/// namespace's own; softnet_stat is the same machine-wide file everywhere. The netlink sockets are made there too.
/// </summary>
public sealed class CounterSampler : IDisposable
{
    internal delegate void Parser(ReadOnlySpan<byte> text, string file, CounterSnapshot into);

    /// <summary>The files under /proc/net and how each is read, in sampling order.</summary>
    internal static readonly (string Name, Parser Parse)[] Files =
    [
        ("snmp", ProcNetParsers.ParseHeaderValuePairs),
        ("netstat", ProcNetParsers.ParseHeaderValuePairs),
        ("snmp6", ProcNetParsers.ParseSnmp6),
        ("softnet_stat", ProcNetParsers.ParseSoftnet),
        ("dev", ProcNetParsers.ParseDev),
        ("stat/nf_conntrack", ProcNetParsers.ParseConntrackStat),
    ];

    private const int MaxProblems = 100;

    private readonly NetNamespaceThread? _namespace;
    private readonly CounterNames _names = new();
    private readonly HashSet<string> _reported = [];
    private readonly List<string> _problems = [];
    private ProcNetFile?[] _files;
    private NetlinkCounters _netlink;
    private readonly Dictionary<string, string> _textsSent = new(StringComparer.Ordinal);
    private CounterSnapshot _spare;
    private CounterSnapshot? _previous;
    private NamespaceState _namespaceState = NamespaceState.Same;
    private bool _namespaceReplaced;
    private readonly bool _machineWide;

    /// <param name="netNamespace">A name from <c>ip netns add</c> (or a path such as <c>/proc/PID/ns/net</c>); null = the agent's own namespace.</param>
    /// <param name="machineWide">Also read softnet_stat, which is the same in every namespace: false for a second namespace's sampler.</param>
    /// <exception cref="ArgumentException">The namespace does not exist.</exception>
    /// <exception cref="InvalidOperationException">The process may not join it (not root).</exception>
    public CounterSampler(string? netNamespace = null, bool machineWide = true)
    {
        _machineWide = machineWide;
        _spare = new CounterSnapshot(_names);
        if (netNamespace is null)
        {
            (_files, _netlink) = Open("/proc/net");
            return;
        }
        _namespace = new NetNamespaceThread(netNamespace);
        (_files, _netlink) = _namespace.Invoke(() => Open("/proc/thread-self/net"));
    }

    public string? NetNamespace => _namespace?.Name;

    /// <summary>Files that could not be opened or lines that did not parse, each reported once; sampling goes on without them.</summary>
    public IReadOnlyList<string> Problems
    {
        get
        {
            lock (_problems) return [.. _problems];
        }
    }

    /// <summary>The values read by the last <see cref="Sample"/>; valid until the next one.</summary>
    public CounterSnapshot? Latest => _previous;

    /// <summary>Deltas since the previous call, stamped <paramref name="atUnixMs"/>; the first call takes the baseline and returns none.</summary>
    public IReadOnlyList<CounterDelta> Sample(long atUnixMs)
    {
        Read();
        return Commit(atUnixMs);
    }

    /// <summary>
    /// Reads every counter now. Called again before <see cref="Commit"/>, it reads them afresh and the earlier read
    /// is forgotten: a sample can be taken again until no drop fell during it.
    /// </summary>
    public void Read()
    {
        _namespaceReplaced |= FollowNamespace();
        var current = _spare;
        current.Clear();
        for (var i = 0; i < Files.Length; i++)
        {
            var file = _files[i];
            if (file is null) continue;
            try
            {
                Files[i].Parse(file.ReadAll(), file.Path, current);
            }
            catch (IOException e)
            {
                current.Problems.Add($"{file.Path}: {e.Message}");
            }
            catch (Exception e)
            {
                // A parser bug on some unforeseen layout costs that file's counters, never the agent.
                current.Problems.Add($"{file.Path}: could not be parsed ({e.GetType().Name}: {e.Message})");
            }
        }
        _netlink.Read(current, _previous);
    }

    /// <summary>The deltas from the previous sample to the last <see cref="Read"/>, stamped <paramref name="atUnixMs"/>; none at the first.</summary>
    public IReadOnlyList<CounterDelta> Commit(long atUnixMs)
    {
        var current = _spare;
        Report(current.Problems);
        var previous = _previous;
        _previous = current;
        _spare = previous ?? new CounterSnapshot(_names);
        var namespaceReplaced = _namespaceReplaced;
        _namespaceReplaced = false;
        if (previous is null) return [];
        if (namespaceReplaced) previous.ForgetNamespaceCounters();
        var deltas = CounterDeltas.Between(previous, current, atUnixMs);
        _names.KeepOnly(current.Values.Keys);
        return deltas;
    }

    /// <summary>
    /// The inode of the network namespace whose counters are read (what <c>ls -iL /proc/self/ns/net</c> shows): drops
    /// elsewhere cannot move them.
    /// </summary>
    public ulong NamespaceInode => _namespace?.Inode ?? OwnNamespaceInode.Value;

    private static readonly Lazy<ulong> OwnNamespaceInode = new(() =>
    {
        // The link reads "net:[4026531840]".
        var target = new FileInfo("/proc/self/ns/net").LinkTarget ?? "";
        return ulong.TryParse(target.AsSpan(target.IndexOf('[') + 1).TrimEnd(']'), out var inode) ? inode : 0;
    });

    /// <summary>
    /// Texts of counters (netfilter rules) that are new or changed since the last call, for the dashboard to show
    /// beside them; null when none changed. Texts of counters that are gone are forgotten, so a rule added again
    /// under the same handle is sent again.
    /// </summary>
    public IReadOnlyDictionary<string, string>? TakeTextChanges()
    {
        var latest = _previous?.Texts;
        if (latest is null) return null;
        Dictionary<string, string>? changed = null;
        foreach (var (counter, text) in latest)
            if (!_textsSent.TryGetValue(counter, out var sent) || sent != text)
                (changed ??= new(StringComparer.Ordinal))[counter] = _textsSent[counter] = text;
        if (_textsSent.Count > latest.Count)
            foreach (var counter in _textsSent.Keys.Where(c => !latest.ContainsKey(c)).ToList()) _textsSent.Remove(counter);
        return changed;
    }

    public void Dispose()
    {
        _netlink.Dispose();
        foreach (var file in _files) file?.Dispose();
        _namespace?.Dispose();
    }

    private (ProcNetFile?[], NetlinkCounters) Open(string directory)
    {
        var files = new ProcNetFile?[Files.Length];
        for (var i = 0; i < Files.Length; i++)
        {
            if (!_machineWide && Files[i].Name == "softnet_stat") continue;
            var path = $"{directory}/{Files[i].Name}";
            try
            {
                files[i] = new ProcNetFile(path, File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // No IPv6 means no snmp6: say so once and sample the rest.
                Report([$"{path}: {e.Message}; its counters are not sampled"]);
            }
        }
        List<string> problems = [];
        var netlink = new NetlinkCounters(problems);
        Report(problems);
        return (files, netlink);
    }

    /// <summary>
    /// When the namespace name now points to a new namespace (deleted and added again), reopen the files in
    /// it: its counters restarted at zero, which the next deltas must treat as a reset.
    /// </summary>
    private bool FollowNamespace()
    {
        if (_namespace is null) return false;
        var state = _namespace.Check();
        var changed = state != _namespaceState;
        _namespaceState = state == NamespaceState.Replaced ? NamespaceState.Same : state;
        if (state == NamespaceState.Gone && changed)
            Report([$"network namespace '{_namespace.Name}' was deleted; its last counters no longer change"]);
        if (state != NamespaceState.Replaced) return false;
        try
        {
            _namespace.Join();
        }
        catch (InvalidOperationException e)
        {
            // After a privilege drop (--user) the agent may no longer join: the old files stay, and this is said once.
            Report([$"network namespace '{_namespace.Name}' was recreated, but {e.Message}; its counters are no longer read: restart the agent"]);
            return false;
        }
        var (old, oldNetlink) = (_files, _netlink);
        (_files, _netlink) = _namespace.Invoke(() => Open("/proc/thread-self/net"));
        foreach (var file in old) file?.Dispose();
        oldNetlink.Dispose();
        Report([$"network namespace '{_namespace.Name}' was recreated; its counters restarted at zero"]);
        return true;
    }

    private void Report(IEnumerable<string> problems)
    {
        lock (_problems)
            foreach (var problem in problems)
            {
                // A file that stays malformed in ever new ways must not grow the agent's memory.
                if (_problems.Count == MaxProblems) _problems.Add("… further counter problems are not recorded");
                if (_problems.Count > MaxProblems) return;
                if (_reported.Add(problem)) _problems.Add(problem);
            }
    }
}
