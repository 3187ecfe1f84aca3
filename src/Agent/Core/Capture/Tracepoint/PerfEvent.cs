using System.Runtime.InteropServices;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace DropBoard.Agent.Capture.Tracepoint;

/// <summary>
/// perf_event_open for one tracepoint on one CPU, with its mmap'd ring (1 metadata page + 2^n data pages).
/// Layouts from include/uapi/linux/perf_event.h.
/// </summary>
internal sealed unsafe class PerfEvent : IDisposable
{
    private const int PERF_TYPE_TRACEPOINT = 2;
    private const ulong PERF_SAMPLE_TIME = 1 << 2, PERF_SAMPLE_CPU = 1 << 7, PERF_SAMPLE_RAW = 1 << 10;
    public const ulong SampleType = PERF_SAMPLE_TIME | PERF_SAMPLE_CPU | PERF_SAMPLE_RAW;
    private const ulong FlagDisabled = 1 << 0, FlagWatermark = 1 << 14, FlagUseClockId = 1 << 25;
    private const int PERF_EVENT_IOC_ENABLE = 0x2400, PERF_EVENT_IOC_DISABLE = 0x2401;
    private const uint PERF_FLAG_FD_CLOEXEC = 1 << 3;

    // perf_event_mmap_page: data_head at 1024, data_tail at 1032 (stable since 3.x).
    private const int DataHeadOffset = 1024, DataTailOffset = 1032;

    public int Fd { get; }
    public int Cpu { get; }
    public PerfRing Ring { get; }
    private readonly byte* _base;
    private readonly int _mapLength;

    private PerfEvent(int fd, int cpu, byte* mapBase, int mapLength, int pageSize, int dataPages)
    {
        Fd = fd;
        Cpu = cpu;
        _base = mapBase;
        _mapLength = mapLength;
        Ring = new PerfRing(
            (ulong*)(mapBase + DataHeadOffset),
            (ulong*)(mapBase + DataTailOffset),
            mapBase + pageSize,
            dataPages * pageSize);
    }

    [StructLayout(LayoutKind.Sequential, Size = 136)]
    private struct PerfEventAttr
    {
        public uint Type;
        public uint Size;
        public ulong Config;
        public ulong SamplePeriod;
        public ulong SampleType;
        public ulong ReadFormat;
        public ulong Flags;
        public uint WakeupWatermark;
        public uint BpType;
        public ulong Config1;
        public ulong Config2;
        public ulong BranchSampleType;
        public ulong SampleRegsUser;
        public uint SampleStackUser;
        public int ClockId;
    }

    /// <summary>Opens the tracepoint on a CPU with a ring of <paramref name="dataPages"/> pages (a power of two).</summary>
    /// <param name="clockId">CLOCK_* for sample times; null keeps perf's default (local clock).</param>
    public static PerfEvent Open(int tracepointId, int cpu, int dataPages, int? clockId)
    {
        var attr = new PerfEventAttr
        {
            Type = PERF_TYPE_TRACEPOINT,
            Size = (uint)sizeof(PerfEventAttr),
            Config = (ulong)tracepointId,
            SamplePeriod = 1,
            SampleType = SampleType,
            // Wake the reader when an eighth of the ring is full, not per event: a drop storm costs one wakeup per chunk,
            // and the other seven eighths are what a reader kept off the CPU has before records are lost.
            Flags = FlagDisabled | FlagWatermark | (clockId is null ? 0 : FlagUseClockId),
            WakeupWatermark = (uint)Math.Max(Environment.SystemPageSize, (long)dataPages * Environment.SystemPageSize / 8),
            ClockId = clockId ?? 0,
        };
        var fd = (int)PerfEventOpen(SysPerfEventOpen, &attr, -1, cpu, -1, PERF_FLAG_FD_CLOEXEC);
        if (fd < 0)
            throw PerfError(Marshal.GetLastPInvokeError(), tracepointId, cpu);

        var pageSize = Environment.SystemPageSize;
        var length = (dataPages + 1) * pageSize;
        var map = mmap(null, length, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (map == (void*)-1)
        {
            var e = errno;
            close(fd);
            // Past perf_event_mlock_kb per CPU, ring pages count against RLIMIT_MEMLOCK unless the process has CAP_IPC_LOCK.
            if (e == EPERM) throw new LockedMemoryLimitException(cpu, length);
            throw new CaptureUnavailableException(
                $"cannot map the perf ring for CPU {cpu} (errno {e})",
                "raise kernel.perf_event_mlock_kb or run as root");
        }
        return new PerfEvent(fd, cpu, (byte*)map, length, pageSize, dataPages);
    }

    /// <summary>The ring does not fit in the memory this process may lock (kernel.perf_event_mlock_kb, then RLIMIT_MEMLOCK).</summary>
    internal sealed class LockedMemoryLimitException(int cpu, int bytes)
        : Exception($"cannot lock {bytes / 1024} KiB for the perf ring of CPU {cpu}");

    public void Enable() => ioctl(Fd, PERF_EVENT_IOC_ENABLE, 0);

    public void Disable() => ioctl(Fd, PERF_EVENT_IOC_DISABLE, 0);

    public void Dispose()
    {
        Disable();
        munmap(_base, _mapLength);
        close(Fd);
    }

    private static long SysPerfEventOpen => RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 298,
        Architecture.Arm64 => 241,
        var other => throw new PlatformNotSupportedException($"perf_event_open syscall number unknown for {other}"),
    };

    // Tmds.LibC's syscall() takes its own argument type; a direct import keeps the call readable.
    [DllImport("libc", EntryPoint = "syscall", SetLastError = true)]
    private static extern long PerfEventOpen(long number, PerfEventAttr* attr, int pid, int cpu, int groupFd, ulong flags);

    private static Exception PerfError(int e, int tracepointId, int cpu)
    {
        if (e == EACCES || e == EPERM)
            return new CaptureUnavailableException(
                "not allowed to open perf events for the drop tracepoint",
                "run as root (sudo), or grant CAP_PERFMON (setcap cap_perfmon,cap_sys_admin+ep), or set kernel.perf_event_paranoid=-1");
        if (e == ENOENT || e == ENODEV)
            return new CaptureUnavailableException(
                $"the kernel rejected tracepoint id {tracepointId}",
                "this kernel has no perf support for tracepoints (CONFIG_PERF_EVENTS); use the NET_DM source");
        return new CaptureUnavailableException($"perf_event_open on CPU {cpu} failed with errno {e}", "check dmesg and kernel.perf_event_paranoid");
    }
}
