using Tmds.Linux;

namespace DropBoard.Agent.Namespaces;

/// <summary>A network namespace the agent found: its inode, a name where it has one, and a path to join it by.</summary>
/// <param name="Name">Its <c>ip netns</c> name, or the container (<see cref="ContainerId"/>) of a process in it; null for neither.</param>
/// <param name="Path"><c>/run/netns/NAME</c>, or <c>/proc/PID/ns/net</c> of a process in it.</param>
public sealed record NetNamespaceInfo(uint Inode, string? Name, string Path);

/// <summary>
/// Finds network namespaces by inode, as the bpf program reports them: first among the <c>ip netns</c> bind mounts
/// (<c>/run/netns</c>), then among the processes' <c>/proc/PID/ns/net</c>. Answers (a miss too) are kept, so /proc
/// is walked once per new namespace, not once per batch; at most <see cref="MaxKept"/> of them.
/// </summary>
public sealed unsafe class NetNamespaceDirectory(string runNetns = "/run/netns", string proc = "/proc")
{
    public const int MaxKept = 4096;
    private const int MaxName = 64;
    private readonly Dictionary<uint, NetNamespaceInfo?> _known = [];

    /// <summary>The inode of the namespace at <paramref name="path"/> (a bind mount or <c>/proc/PID/ns/net</c>); 0 when it cannot be read.</summary>
    public static uint InodeOf(string path)
    {
        stat st;
        var bytes = System.Text.Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* p = bytes)
            return LibC.stat(p, &st) == 0 ? (uint)st.st_ino : 0;
    }

    /// <summary>The namespaces <c>ip netns add</c> made, by name.</summary>
    public IReadOnlyList<NetNamespaceInfo> Named()
    {
        if (!Directory.Exists(runNetns)) return [];
        var named = new List<NetNamespaceInfo>();
        foreach (var path in Directory.EnumerateFiles(runNetns).Order(StringComparer.Ordinal))
            if (InodeOf(path) is var inode and not 0)
                named.Add(new NetNamespaceInfo(inode, Bounded(System.IO.Path.GetFileName(path)), path));
        return named;
    }

    /// <summary>The namespace with this inode, or null when no bind mount and no process holds it (it is gone).</summary>
    public NetNamespaceInfo? Find(uint inode)
    {
        if (_known.TryGetValue(inode, out var known)) return known;
        var found = Named().FirstOrDefault(n => n.Inode == inode) ?? FromProcesses(inode);
        if (_known.Count >= MaxKept) _known.Clear();
        return _known[inode] = found;
    }

    private NetNamespaceInfo? FromProcesses(uint inode)
    {
        var link = $"net:[{inode}]";
        foreach (var dir in Directory.EnumerateDirectories(proc))
        {
            var pid = System.IO.Path.GetFileName(dir);
            if (pid.Length == 0 || !char.IsAsciiDigit(pid[0])) continue;
            try
            {
                if (new FileInfo($"{dir}/ns/net").LinkTarget != link) continue;
                var container = ContainerId.FromCgroup(File.ReadAllText($"{dir}/cgroup"));
                return new NetNamespaceInfo(inode, container, $"{dir}/ns/net");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // The process ended meanwhile, or hides its namespace: look further.
            }
        }
        return null;
    }

    // A name travels to the dashboard, which refuses a batch with a name that is not plain text: such a name is left
    // out (the inode still names the namespace) rather than cost the batch.
    private static string? Bounded(string name) =>
        name.Length is > 0 and <= MaxName && name.All(c => c is >= ' ' and <= '~') ? name : null;
}
