using DropBoard.Agent.Privileges;

namespace DropBoard.Agent.Tests.Privileges;

/// <summary>A process that never dropped (the dashboard with its embedded agent, this test run) keeps every thread's capabilities.</summary>
public sealed class KeptPrivilegesTests
{
    [Fact]
    public void Without_a_drop_privileged_work_runs_in_place_and_no_thread_is_set_apart()
    {
        Assert.Null(KeptPrivileges.ThreadId);
        Assert.Equal(Environment.CurrentManagedThreadId, KeptPrivileges.Run(() => Environment.CurrentManagedThreadId));
    }
}
