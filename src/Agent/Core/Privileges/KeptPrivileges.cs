using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Runtime.InteropServices;

namespace DropBoard.Agent.Privileges;

/// <summary>
/// After the drop (<see cref="PrivilegeDrop"/>) one thread keeps the capabilities the agent still needs, and the work
/// that needs them runs there: capabilities belong to a thread, and every other thread has none. Before a drop, and in
/// processes that never drop (the dashboard's embedded agent), <see cref="Run{T}"/> runs the work in place.
/// The thread never queues work to the thread pool: a thread it started would inherit its capabilities.
/// </summary>
public static partial class KeptPrivileges
{
    private static Worker? _worker;

    /// <summary>The kernel's id of the thread holding the kept capabilities; null when none is kept.</summary>
    public static int? ThreadId => _worker?.ThreadId;

    /// <summary>Runs <paramref name="work"/> where the kept capabilities are, waiting for it.</summary>
    public static T Run<T>(Func<T> work) => _worker is { } worker ? worker.Invoke(work) : work();

    /// <summary>Starts the thread, which runs <paramref name="drop"/> on itself first; throws what that threw.</summary>
    internal static void Start(Action drop)
    {
        // Installed first: should the drop fail half-way, stopping NET_DM on the way out still goes to the thread that kept most.
        var worker = _worker = new Worker();
        worker.Invoke(() =>
        {
            drop();
            return 0;
        });
    }

    private sealed class Worker
    {
        private readonly BlockingCollection<Action> _work = [];
        private readonly Thread _thread;

        public int ThreadId { get; private set; }

        public Worker()
        {
            _thread = new Thread(Serve) { IsBackground = true, Name = "privileged" };
            _thread.Start();
        }

        private void Serve()
        {
            ThreadId = gettid();
            foreach (var work in _work.GetConsumingEnumerable()) work();
        }

        public T Invoke<T>(Func<T> work)
        {
            if (Thread.CurrentThread == _thread) return work();
            T result = default!;
            ExceptionDispatchInfo? error = null;
            // Signalled with an event, not a task: completing a task could start a pool thread from here.
            using var done = new ManualResetEventSlim();
            _work.Add(() =>
            {
                try
                {
                    result = work();
                }
                catch (Exception e)
                {
                    error = ExceptionDispatchInfo.Capture(e);
                }
                finally
                {
                    done.Set();
                }
            });
            done.Wait();
            error?.Throw();
            return result;
        }
    }

    [LibraryImport("libc")]
    private static partial int gettid();
}
