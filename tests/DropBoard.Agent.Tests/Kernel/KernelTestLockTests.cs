using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// The kernel-test lock keeps the kernel tests of every test assembly (Agent, Web, Browser, each its own process)
/// apart. Witness: util-linux's <c>flock</c>, another process taking the same flock(2) as a shell script would.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class KernelTestLockTests
{
    [Fact]
    public void Another_process_cannot_take_the_lock_while_a_test_holds_it_and_can_once_it_is_released()
    {
        Privileged.RequireCommand("flock", "util-linux");
        using (KernelTestLock.Acquire())
        {
            var (held, _, _) = Commands.TryRun("flock", "--nonblock", "--conflict-exit-code", "75", KernelTestLock.LockPath, "true");
            Assert.True(held == 75, $"flock(1) took the lock a test holds (exit {held}): another test assembly would run its kernel tests beside this one");
            Assert.Contains($"pid {Environment.ProcessId} ", KernelTestLock.CurrentHolder());
            Assert.Contains(nameof(Another_process_cannot_take_the_lock_while_a_test_holds_it_and_can_once_it_is_released), KernelTestLock.CurrentHolder());
        }
        var (free, _, stderr) = Commands.TryRun("flock", "--nonblock", "--conflict-exit-code", "75", KernelTestLock.LockPath, "true");
        Assert.True(free == 0, $"the released lock is still held (exit {free}): {stderr}");
    }

    [Fact]
    public void A_test_waits_for_another_process_holding_the_lock_and_names_it_when_it_gives_up()
    {
        Privileged.RequireCommand("flock", "util-linux");
        // A shell holding the lock, as a kernel test of another assembly would, and saying who it is.
        using var holder = System.Diagnostics.Process.Start("flock", [KernelTestLock.LockPath, "sh", "-c", $"echo 'pid '$$' another test run' >{KernelTestLock.LockPath}; sleep 30"])!;
        try
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!KernelTestLock.CurrentHolder().Contains("another test run") && clock.Elapsed < TimeSpan.FromSeconds(30)) Thread.Sleep(20);

            var waited = System.Diagnostics.Stopwatch.StartNew();
            var e = Assert.Throws<TimeoutException>(() => KernelTestLock.Acquire(TimeSpan.FromSeconds(1)));
            Assert.True(waited.Elapsed >= TimeSpan.FromSeconds(1), $"gave up after {waited.Elapsed} instead of waiting");
            Assert.Contains("another test run", e.Message);
        }
        finally
        {
            holder.Kill(entireProcessTree: true);
            holder.WaitForExit();
        }
        using var mine = KernelTestLock.Acquire(TimeSpan.FromSeconds(30));
    }
}
