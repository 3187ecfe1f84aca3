using System.Runtime.InteropServices;

namespace DropBoard.Agent.Privileges;

/// <summary>A user of this host as the C library resolves it (/etc/passwd, or NSS: LDAP, systemd's users).</summary>
public sealed partial record UnixUser(string Name, uint Uid, uint Gid)
{
    [StructLayout(LayoutKind.Sequential)]
    private struct Passwd
    {
        public nint Name;
        public nint Password;
        public uint Uid;
        public uint Gid;
        public nint Gecos;
        public nint Home;
        public nint Shell;
    }

    /// <exception cref="PrivilegeDropException">No such user, or root.</exception>
    public static unsafe UnixUser Resolve(string name)
    {
        Passwd entry;
        Passwd* found = null;
        var buffer = new byte[16 * 1024];
        int error;
        fixed (byte* b = buffer)
            error = getpwnam_r(name, &entry, b, (nuint)buffer.Length, &found);
        if (error != 0 || found is null)
            throw new PrivilegeDropException($"--user {name}: no such user{(error == 0 ? "" : $" ({Marshal.GetPInvokeErrorMessage(error)})")}",
                $"create it (useradd --system --no-create-home {name}) or name an existing one");
        if (entry.Uid == 0)
            throw new PrivilegeDropException($"--user {name} is root (uid 0): nothing would be given up", "name an unprivileged user, e.g. --user nobody");
        return new UnixUser(name, entry.Uid, entry.Gid);
    }

    [LibraryImport("libc", StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int getpwnam_r(string name, Passwd* entry, byte* buffer, nuint size, Passwd** result);
}
