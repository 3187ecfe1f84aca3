using DropBoard.Shared.Contracts;
using Tmds.Linux;

namespace DropBoard.Agent.Counters;

/// <summary>
/// Reads /proc/net/{snmp,netstat,snmp6,softnet_stat,dev} and returns what changed since the last sample.
/// For another network namespace it keeps a parked thread inside that namespace and reads that thread's
/// view, <c>/proc/self/task/&lt;tid&gt;/net/...</c>: counters are per namespace, softnet_stat is global.
/// </summary>
public sealed class CounterSampler : IDisposable
{
    private static readonly (string File, Action<string, string, CounterSnapshot> Parse)[] Files =
    [
        ("snmp", ProcNetParsers.ParseHeaderValuePairs),
        ("netstat", ProcNetParsers.ParseHeaderValuePairs),
        ("snmp6", ProcNetParsers.ParseSnmp6),
        ("softnet_stat", ProcNetParsers.ParseSoftnet),
        ("dev", ProcNetParsers.ParseDev),
    ];

    private readonly string _procNet;
    private readonly NamespaceThread? _thread;
    private readonly HashSet<string> _reported = [];
    private CounterSnapshot? _previous;

    /// <summary>Problems met while reading (missing files, malformed lines), each reported once.</summary>
    public List<string> Problems { get; } = [];

    public CounterSampler(string? netNamespace = null)
    {
        if (netNamespace is null)
        {
            _procNet = "/proc/net";
            return;
        }
        _thread = new NamespaceThread(netNamespace);
        _procNet = $"/proc/self/task/{_thread.Tid}/net";
    }

    public CounterSnapshot Read()
    {
        var snapshot = new CounterSnapshot();
        foreach (var (file, parse) in Files)
        {
            var path = $"{_procNet}/{file}";
            try
            {
                parse(File.ReadAllText(path), path, snapshot);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // No IPv6 means no snmp6: note it once and keep sampling the rest.
                snapshot.Problems.Add($"{path}: {e.Message}");
            }
        }
        foreach (var problem in snapshot.Problems)
            if (_reported.Add(problem)) Problems.Add(problem);
        return snapshot;
    }

    /// <summary>Deltas since the previous call; the first call takes the baseline and returns none.</summary>
    public IReadOnlyList<CounterDelta> Sample(long atUnixMs)
    {
        var current = Read();
        var previous = _previous;
        _previous = current;
        return previous is null ? [] : CounterDeltas.Between(previous, current, atUnixMs);
    }

    public void Dispose() => _thread?.Dispose();

    /// <summary>A thread that joined a network namespace and waits, so its /proc view is that namespace's.</summary>
    private sealed class NamespaceThread : IDisposable
    {
        private readonly ManualResetEventSlim _stop = new();
        public int Tid { get; }

        public NamespaceThread(string name)
        {
            var path = name.Contains('/') ? name : $"/run/netns/{name}";
            if (!File.Exists(path))
                throw new ArgumentException($"network namespace '{name}' not found ({path} missing; see `ip netns list`)");
            var ready = new TaskCompletionSource<int>();
            var thread = new Thread(() =>
            {
                try
                {
                    using var ns = File.OpenHandle(path);
                    if (LibC.setns((int)ns.DangerousGetHandle(), LibC.CLONE_NEWNET) != 0)
                        throw new InvalidOperationException($"cannot join network namespace '{name}' (errno {LibC.errno}); run as root");
                    // /proc/thread-self links to "<pid>/task/<tid>": this thread's id.
                    ready.SetResult(int.Parse(Path.GetFileName(new FileInfo("/proc/thread-self").LinkTarget!)));
                }
                catch (Exception e)
                {
                    ready.SetException(e);
                    return;
                }
                _stop.Wait();
            })
            { IsBackground = true, Name = $"netns {name}" };
            thread.Start();
            Tid = ready.Task.GetAwaiter().GetResult();
        }

        public void Dispose() => _stop.Set();
    }
}
