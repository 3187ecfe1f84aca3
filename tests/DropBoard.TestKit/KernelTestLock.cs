namespace DropBoard.TestKit;

/// <summary>
/// The drop tracepoint sees the whole machine, so two tests flooding at once would see each other's
/// drops. Every test that makes or counts kernel drops holds this machine-wide lock (an flock on a file,
/// across processes and test assemblies) for its duration.
/// </summary>
public sealed class KernelTestLock : IDisposable
{
    private const string LockPath = "/tmp/dropboard-kernel-tests.lock";
    private readonly FileStream _file;

    private KernelTestLock(FileStream file) => _file = file;

    public static KernelTestLock Acquire(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromMinutes(10));
        while (true)
        {
            try
            {
                // FileShare.None takes an exclusive flock on Unix.
                return new KernelTestLock(new FileStream(LockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None));
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(100);
            }
        }
    }

    public void Dispose() => _file.Dispose();
}
