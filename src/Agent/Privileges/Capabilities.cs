using System.Runtime.InteropServices;

namespace DropBoard.Agent.Privileges;

/// <summary>
/// The kernel calls that give privileges up, through glibc. Capabilities, the bounding set, keep-caps and
/// no-new-privs belong to the calling thread only; setgroups/setresgid/setresuid are applied by glibc to every
/// thread of the process (its setxid broadcast), which is why they go through libc and not a raw syscall.
/// </summary>
internal static unsafe partial class Capabilities
{
    private const uint Version3 = 0x20080522; // _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set
    private const int PR_SET_KEEPCAPS = 8;
    private const int PR_CAPBSET_DROP = 24;
    private const int PR_SET_NO_NEW_PRIVS = 38;
    private const int PR_CAP_AMBIENT = 47;
    private const int PR_CAP_AMBIENT_CLEAR_ALL = 4;
    private const int SECCOMP_SET_MODE_FILTER = 1;
    private const uint SECCOMP_FILTER_FLAG_TSYNC = 1;
    private const uint SECCOMP_RET_ALLOW = 0x7fff0000;
    private const ushort BPF_RET_K = 0x06;

    [StructLayout(LayoutKind.Sequential)]
    private struct CapHeader
    {
        public uint Version;
        public int Pid;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct CapData
    {
        public uint Effective;
        public uint Permitted;
        public uint Inheritable;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockFilter
    {
        public ushort Code;
        public byte JumpTrue;
        public byte JumpFalse;
        public uint K;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockFprog
    {
        public ushort Length;
        public SockFilter* Filter;
    }

    /// <summary>Sets the calling thread's effective and permitted sets to <paramref name="keep"/>, inheritable to none.</summary>
    public static void SetOwn(CapabilitySet keep)
    {
        var header = new CapHeader { Version = Version3, Pid = 0 };
        var data = stackalloc CapData[2];
        data[0] = new CapData { Effective = (uint)keep.Bits, Permitted = (uint)keep.Bits };
        data[1] = new CapData { Effective = (uint)(keep.Bits >> 32), Permitted = (uint)(keep.Bits >> 32) };
        Check(capset(&header, data), $"capset({keep})");
    }

    /// <summary>Whether the calling thread keeps its permitted set when its uids leave 0 (PR_SET_KEEPCAPS).</summary>
    public static void KeepAcrossUidChange(bool keep) => Check(prctl(PR_SET_KEEPCAPS, keep ? 1u : 0u, 0, 0, 0), "prctl(PR_SET_KEEPCAPS)");

    /// <summary>Drops from the calling thread's bounding set every capability not in <paramref name="keep"/>.</summary>
    public static void LimitBoundingSet(CapabilitySet keep)
    {
        var last = int.Parse(File.ReadAllText("/proc/sys/kernel/cap_last_cap").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        for (var capability = 0; capability <= last; capability++)
            if (!keep.Contains(capability))
                Check(prctl(PR_CAPBSET_DROP, (nuint)capability, 0, 0, 0), $"prctl(PR_CAPBSET_DROP, {capability})");
    }

    public static void ClearAmbient() => Check(prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl(PR_CAP_AMBIENT_CLEAR_ALL)");

    /// <summary>Every thread becomes <paramref name="uid"/>:<paramref name="gid"/> with no supplementary groups.</summary>
    public static void SwitchUser(uint uid, uint gid)
    {
        Check(setgroups(0, null), "setgroups(0)");
        Check(setresgid(gid, gid, gid), $"setresgid({gid})");
        Check(setresuid(uid, uid, uid), $"setresuid({uid})");
    }

    /// <summary>
    /// no_new_privs on every thread: set on this one, then an allow-everything seccomp filter installed with TSYNC,
    /// which the kernel copies to every thread of the process together with no_new_privs (seccomp_sync_threads).
    /// There is no other way to reach threads the runtime made.
    /// </summary>
    public static void ForbidNewPrivilegesOnEveryThread()
    {
        Check(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)");
        var allow = new SockFilter { Code = BPF_RET_K, K = SECCOMP_RET_ALLOW };
        var program = new SockFprog { Length = 1, Filter = &allow };
        var number = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 317,
            Architecture.Arm64 => 277,
            var other => throw new PrivilegeDropException($"no seccomp syscall number known for {other}", "run the agent without --user, or on x64/arm64"),
        };
        var result = syscall(number, SECCOMP_SET_MODE_FILTER, (nint)SECCOMP_FILTER_FLAG_TSYNC, (nint)(&program));
        // With TSYNC a positive result is the id of a thread that could not take the filter.
        if (result > 0) throw new PrivilegeDropException($"seccomp(TSYNC): thread {result} could not be given no_new_privs", "report this as a bug");
        Check((int)result, "seccomp(SECCOMP_SET_MODE_FILTER, TSYNC)");
    }

    private static void Check(int result, string call)
    {
        if (result == 0) return;
        var errno = Marshal.GetLastPInvokeError();
        throw new PrivilegeDropException($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})",
            $"start the agent as root with at least {PrivilegePlan.StartSet} (as deploy/dropboard-agent.service does)");
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int capset(CapHeader* header, CapData* data);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setgroups(nuint size, uint* list);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setresgid(uint real, uint effective, uint saved);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int setresuid(uint real, uint effective, uint saved);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint syscall(nint number, nint arg1, nint arg2, nint arg3);
}

/// <summary>The agent could not give its privileges up; <see cref="Fix"/> says what the operator can do.</summary>
public sealed class PrivilegeDropException(string message, string fix) : Exception(message)
{
    public string Fix { get; } = fix;
}
