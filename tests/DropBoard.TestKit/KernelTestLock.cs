using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace DropBoard.TestKit;

/// <summary>
/// The drop tracepoint sees the whole machine, so two tests flooding at once would see each other's drops. Every
/// test that makes or counts kernel drops, in every test assembly (Agent, Web, Browser), holds this machine-wide
/// lock for its duration: an exclusive flock(2) on <see cref="LockPath"/>, the very lock
/// <c>flock /tmp/dropboard-kernel-tests.lock CMD</c> takes in a shell, released by the kernel when the holder
/// exits however it ends. The holder writes who it is into the file, so a test that waits too long names it.
/// </summary>
/// <remarks>
/// flock is called directly rather than through <c>FileShare.None</c>: .NET takes the same flock there, but
/// silently none under <c>System.IO.DisableFileLocking</c> (DOTNET_SYSTEM_IO_DISABLEFILELOCKING=1), which would let
/// every test think it held the lock. The file is opened without O_CREAT when it exists: with <c>fs.protected_regular</c> a sticky /tmp
/// refuses O_CREAT on another user's file, even to root.
/// </remarks>
public sealed partial class KernelTestLock : IDisposable
{
    public const string LockPath = "/tmp/dropboard-kernel-tests.lock";

    private int _fd;

    private KernelTestLock(int fd) => _fd = fd;

    /// <param name="timeout">How long to wait for another holder (default 10 minutes: a slow kernel test of another assembly).</param>
    /// <param name="holder">Who is asking, written into the lock file while held (default: the calling test method).</param>
    public static KernelTestLock Acquire(TimeSpan? timeout = null, [System.Runtime.CompilerServices.CallerMemberName] string holder = "")
    {
        var fd = Open();
        var deadline = Stopwatch.StartNew();
        var limit = timeout ?? TimeSpan.FromMinutes(10);
        while (flock(fd, LOCK_EX | LOCK_NB) != 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            if (errno != EWOULDBLOCK)
            {
                close(fd);
                throw new IOException($"flock({LockPath}) failed: errno {errno}");
            }
            if (deadline.Elapsed >= limit)
            {
                var current = ReadHolder(fd);
                close(fd);
                throw new TimeoutException(
                    $"the kernel-test lock {LockPath} was held for more than {limit.TotalSeconds:0} s by {current}; " +
                    "a kernel test of another test run is still going (the kernel frees the lock when its process exits)");
            }
            Thread.Sleep(100);
        }
        WriteHolder(fd, $"pid {Environment.ProcessId} ({Process.GetCurrentProcess().ProcessName}, {AppDomain.CurrentDomain.FriendlyName}) test {holder} since {DateTime.Now:HH:mm:ss}");
        return new KernelTestLock(fd);
    }

    /// <summary>Who holds the lock now, as its holder wrote it (empty when nobody ever took it).</summary>
    public static string CurrentHolder()
    {
        var fd = Open();
        try
        {
            return ReadHolder(fd);
        }
        finally
        {
            close(fd);
        }
    }

    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd < 0) return;
        ftruncate(fd, 0);
        close(fd); // releases the flock
    }

    private static int Open()
    {
        var fd = open(LockPath, O_RDWR | O_CLOEXEC, 0);
        if (fd >= 0) return fd;
        fd = open(LockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0x1b6);
        if (fd < 0)
        {
            // Another user's file we may not write: reading is enough for flock, only the holder note is lost.
            fd = open(LockPath, O_RDONLY | O_CLOEXEC, 0);
            if (fd < 0) throw new IOException($"cannot open the kernel-test lock {LockPath}: errno {Marshal.GetLastPInvokeError()}");
            return fd;
        }
        fchmod(fd, 0x1b6); // 0666 whatever the umask: the next test run may be another user's
        return fd;
    }

    private static void WriteHolder(int fd, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text + "\n");
        if (ftruncate(fd, 0) != 0) return; // opened read-only
        pwrite(fd, bytes, bytes.Length, 0);
    }

    private static string ReadHolder(int fd)
    {
        var buffer = new byte[512];
        var n = pread(fd, buffer, buffer.Length, 0);
        return n > 0 ? Encoding.UTF8.GetString(buffer, 0, (int)n).Trim() : "a process that left no note";
    }

    private const int LOCK_EX = 2, LOCK_NB = 4; // <sys/file.h>
    private static readonly int O_RDONLY = Tmds.Linux.LibC.O_RDONLY, O_RDWR = Tmds.Linux.LibC.O_RDWR,
        O_CREAT = Tmds.Linux.LibC.O_CREAT, O_CLOEXEC = Tmds.Linux.LibC.O_CLOEXEC, EWOULDBLOCK = Tmds.Linux.LibC.EWOULDBLOCK;

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int flock(int fd, int operation);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fchmod(int fd, uint mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int ftruncate(int fd, long length);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint pwrite(int fd, byte[] buffer, nint count, long offset);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint pread(int fd, byte[] buffer, nint count, long offset);
}
