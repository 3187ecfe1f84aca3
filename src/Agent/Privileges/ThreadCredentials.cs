using System.Globalization;

namespace DropBoard.Agent.Privileges;

/// <summary>
/// One thread's credentials as the kernel reports them in <c>/proc/self/task/TID/status</c>. After a drop every
/// thread is checked, so a thread the C library's broadcast missed (or a runtime making raw syscalls) is caught.
/// </summary>
internal sealed record ThreadCredentials(string Uid, string Gid, string Groups, ulong Inheritable, ulong Permitted, ulong Effective, ulong Bounding, ulong Ambient, int NoNewPrivs)
{
    public static ThreadCredentials Parse(string status)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in status.Split('\n'))
        {
            var colon = line.IndexOf(':');
            if (colon > 0) fields[line[..colon]] = line[(colon + 1)..].Trim();
        }
        ulong Hex(string name) => ulong.Parse(fields[name], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
        return new ThreadCredentials(
            string.Join(' ', fields["Uid"].Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)),
            string.Join(' ', fields["Gid"].Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)),
            fields.GetValueOrDefault("Groups", ""),
            Hex("CapInh"), Hex("CapPrm"), Hex("CapEff"), Hex("CapBnd"), Hex("CapAmb"),
            int.Parse(fields["NoNewPrivs"], CultureInfo.InvariantCulture));
    }

    /// <summary>What is wrong with this thread's credentials after a drop to <paramref name="user"/>, or null.</summary>
    public string? Problem(UnixUser user, CapabilitySet keep, bool keepsCapabilities)
    {
        var expected = keepsCapabilities ? keep.Bits : 0;
        var ids = $"{user.Uid} {user.Uid} {user.Uid} {user.Uid}";
        var gids = $"{user.Gid} {user.Gid} {user.Gid} {user.Gid}";
        if (Uid != ids || Gid != gids || Groups.Length != 0) return $"uids {Uid}, gids {Gid}, groups '{Groups}'";
        if (Permitted != expected || Effective != expected || Inheritable != 0 || Ambient != 0)
            return $"capabilities permitted {Permitted:x16}, effective {Effective:x16}, inheritable {Inheritable:x16}, ambient {Ambient:x16} (expected {expected:x16})";
        if (keepsCapabilities && Bounding != keep.Bits) return $"bounding set {Bounding:x16} (expected {keep.Bits:x16})";
        return NoNewPrivs == 1 ? null : "no_new_privs not set";
    }

    /// <summary>Checks every thread of this process; throws naming the first that is not as it must be.</summary>
    public static void Verify(UnixUser user, CapabilitySet keep, int? keeperThreadId)
    {
        foreach (var task in Directory.GetDirectories("/proc/self/task"))
        {
            string status;
            try
            {
                status = File.ReadAllText(Path.Combine(task, "status"));
            }
            catch (IOException)
            {
                continue; // the thread ended meanwhile
            }
            var id = int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture);
            if (Parse(status).Problem(user, keep, id == keeperThreadId) is { } problem)
                throw new PrivilegeDropException($"thread {id} still has {problem} after the drop", "report this as a bug; run without --user meanwhile");
        }
    }
}
