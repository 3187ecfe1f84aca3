using System.Net.Sockets;
using Tmds.Linux;

namespace DropBoard.TestKit;

/// <summary>
/// A fresh network namespace (<c>ip netns add</c>) with loopback up: a private host whose counters start
/// at zero and whose drops are the test's own. Sockets made through <see cref="CreateSocket"/> live inside it.
/// </summary>
public sealed class NetNamespace : IDisposable
{
    public string Name { get; }

    private NetNamespace(string name) => Name = name;

    public static NetNamespace Create(string prefix = "dbt")
    {
        Privileged.RequireRoot();
        Privileged.RequireCommand("ip", "iproute2");
        var name = $"{prefix}-{Environment.ProcessId}-{Guid.NewGuid().ToString("n")[..6]}";
        Commands.Run("ip", "netns", "add", name);
        var ns = new NetNamespace(name);
        ns.Exec("ip", "link", "set", "lo", "up");
        return ns;
    }

    /// <summary>The namespace's inode: what the bpf source and the agent's summary name it by.</summary>
    public uint Inode => uint.Parse(Commands.Run("stat", "-L", "-c", "%i", $"/run/netns/{Name}").Trim());

    /// <summary>Runs a command inside the namespace (<c>ip netns exec</c>) and returns its stdout.</summary>
    public string Exec(string file, params string[] args) =>
        Commands.Run("ip", ["netns", "exec", Name, file, .. args]);

    /// <summary>The namespace's own /proc/net file (snmp, netstat, snmp6, dev), read from inside it.</summary>
    public string ReadProcNet(string file) => Exec("cat", $"/proc/net/{file}");

    /// <summary>One counter of the namespace's <c>/proc/net/snmp</c>, as <c>Snmp("Udp", "RcvbufErrors")</c>.</summary>
    public long Snmp(string group, string counter) => Counter("snmp", group, counter);

    /// <summary>One counter of the namespace's <c>/proc/net/netstat</c>, as <c>Netstat("TcpExt", "ListenOverflows")</c>.</summary>
    public long Netstat(string group, string counter) => Counter("netstat", group, counter);

    /// <summary>
    /// A counter of a header/value file (snmp, netstat), read here with a plain split and not with the agent's
    /// parser, so a test comparing the agent with it has a witness of its own.
    /// </summary>
    public long Counter(string file, string group, string counter) => CounterIn(ReadProcNet(file), file, group, counter);

    /// <summary>
    /// The same counter read by a thread of this process inside the namespace (<c>/proc/thread-self/net</c>), in
    /// microseconds rather than the milliseconds of starting <c>cat</c>: for helpers that poll a condition.
    /// </summary>
    internal long CounterFromThread(string file, string group, string counter) => CounterIn(ReadProcNetFromThread(file), file, group, counter);

    /// <summary>A /proc/net file of the namespace read by a thread inside it (see <see cref="CounterFromThread"/>).</summary>
    internal string ReadProcNetFromThread(string file) => InNamespace(() => File.ReadAllText($"/proc/thread-self/net/{file}"));

    private long CounterIn(string text, string file, string group, string counter)
    {
        var lines = text.Split('\n').Where(l => l.StartsWith(group + ": ", StringComparison.Ordinal)).ToArray();
        if (lines.Length != 2) throw new ArgumentException($"/proc/net/{file} of {Name} has {lines.Length} '{group}:' lines, not a header and a value line");
        var names = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var index = Array.IndexOf(names, counter);
        if (index < 0) throw new ArgumentException($"/proc/net/{file} has no {group}.{counter}");
        return long.Parse(lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[index]);
    }

    /// <summary>Creates a socket inside the namespace: a thread joins it, makes the socket, and leaves.</summary>
    public Socket CreateSocket(AddressFamily family, SocketType type, ProtocolType protocol) =>
        InNamespace(() => new Socket(family, type, protocol));

    /// <summary>Runs <paramref name="action"/> on a thread that joined the namespace (setns affects only that thread; a socket keeps the namespace it was made in).</summary>
    private T InNamespace<T>(Func<T> action)
    {
        T? result = default;
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                using var nsFile = File.OpenHandle($"/run/netns/{Name}");
                if (LibC.setns((int)nsFile.DangerousGetHandle(), LibC.CLONE_NEWNET) != 0)
                    throw new InvalidOperationException($"setns({Name}) failed: errno {Tmds.Linux.LibC.errno}");
                result = action();
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        thread.Join();
        if (error is not null) throw error;
        return result!;
    }

    public void Dispose() => Commands.TryRun("ip", "netns", "del", Name);
}
