using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Tmds.Linux;

namespace DropBoard.Agent.Counters;

/// <summary>
/// A long-lived thread that joined a network namespace (setns affects only the calling thread) and runs
/// the work handed to it there: files it opens under <c>/proc/thread-self/net</c> are that namespace's.
/// </summary>
internal sealed unsafe class NetNamespaceThread : IDisposable
{
    private readonly BlockingCollection<Action> _work = [];
    private readonly byte[] _pathZ;
    private (ulong Dev, ulong Ino) _joined;

    public string Name { get; }

    /// <summary>The inode of the namespace this thread joined: the kernel's <c>ns.inum</c>.</summary>
    public ulong Inode => _joined.Ino;

    /// <summary><c>/run/netns/NAME</c> for a name from <c>ip netns add</c>, or a given path (<c>/proc/PID/ns/net</c>).</summary>
    public string Path { get; }

    public NetNamespaceThread(string name)
    {
        Name = name;
        Path = name.Contains('/') ? name : $"/run/netns/{name}";
        if (!File.Exists(Path))
            throw new ArgumentException($"network namespace '{name}' not found ({Path} missing; see `ip netns list`)", nameof(name));
        _pathZ = System.Text.Encoding.UTF8.GetBytes(Path + "\0");
        new Thread(() =>
        {
            foreach (var work in _work.GetConsumingEnumerable()) work();
        })
        { IsBackground = true, Name = $"counters in netns {name}" }.Start();
        try
        {
            Join();
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public T Invoke<T>(Func<T> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                done.SetResult(work());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task.GetAwaiter().GetResult();
    }

    /// <summary>
    /// (Re)joins the namespace <see cref="Path"/> names now. After <c>ip netns del</c> + <c>add</c> the same name is
    /// a new namespace whose counters start at zero.
    /// </summary>
    public void Join() => _joined = Invoke(() =>
    {
        using var handle = File.OpenHandle(Path);
        var fd = (int)handle.DangerousGetHandle();
        stat st;
        if (LibC.fstat(fd, &st) != 0 || LibC.setns(fd, LibC.CLONE_NEWNET) != 0)
            throw new InvalidOperationException($"cannot join network namespace '{Name}' (errno {Marshal.GetLastSystemError()}); the agent needs root (CAP_SYS_ADMIN)");
        return ((ulong)st.st_dev, (ulong)st.st_ino);
    });

    /// <summary>What <see cref="Path"/> holds now compared with the namespace this thread is in.</summary>
    public NamespaceState Check()
    {
        stat st;
        int rc;
        fixed (byte* path = _pathZ)
            rc = LibC.stat(path, &st);
        if (rc != 0) return NamespaceState.Gone;
        return ((ulong)st.st_dev, (ulong)st.st_ino) == _joined ? NamespaceState.Same : NamespaceState.Replaced;
    }

    public void Dispose() => _work.CompleteAdding();
}

internal enum NamespaceState { Same, Replaced, Gone }
