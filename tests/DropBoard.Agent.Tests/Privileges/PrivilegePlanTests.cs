using DropBoard.Agent.Privileges;

namespace DropBoard.Agent.Tests.Privileges;

public sealed class PrivilegePlanTests
{
    [Fact]
    public void An_agent_that_started_NET_DM_on_a_kptr_restricted_kernel_keeps_net_admin_and_syslog_only()
    {
        var plan = PrivilegePlan.For(new AgentNeeds(StopsNetDmMonitor: true, KallsymsNeedsSyslog: true, FollowsNetNamespace: false));

        // Bits 12 and 34 of linux/capability.h, as /proc/PID/status prints them.
        Assert.Equal("0000000400001000", plan.Keep.Hex);
        Assert.Equal("CAP_NET_ADMIN CAP_SYSLOG", plan.Keep.ToString());
        Assert.Equal(2, plan.Reasons.Count);
        Assert.Empty(plan.GivenUp);
    }

    [Fact]
    public void Sharing_another_programs_monitor_with_kallsyms_open_to_all_keeps_nothing()
    {
        var plan = PrivilegePlan.For(new AgentNeeds(StopsNetDmMonitor: false, KallsymsNeedsSyslog: false, FollowsNetNamespace: false));

        Assert.True(plan.Keep.IsEmpty);
        Assert.Equal("none", plan.Keep.ToString());
        Assert.Empty(plan.Reasons);
    }

    [Fact]
    public void Reading_another_namespace_keeps_no_sys_admin_and_says_what_stops_working()
    {
        var plan = PrivilegePlan.For(new AgentNeeds(StopsNetDmMonitor: false, KallsymsNeedsSyslog: true, FollowsNetNamespace: true));

        Assert.Equal(CapabilitySet.Of(Capability.Syslog), plan.Keep);
        Assert.False(plan.Keep.Contains((int)Capability.SysAdmin));
        Assert.Contains(plan.GivenUp, g => g.StartsWith("--netns", StringComparison.Ordinal) && g.Contains("restart the agent"));
    }

    [Theory]
    [InlineData(0, -1, false)]
    [InlineData(0, 1, false)]
    [InlineData(0, 2, true)] // Debian's perf_event_paranoid: kallsyms_for_perf() says no
    [InlineData(1, -1, true)]
    [InlineData(1, 2, true)]
    [InlineData(2, 0, true)]
    public void Kallsyms_needs_syslog_unless_kptr_restrict_0_and_perf_event_paranoid_at_most_1(int kptrRestrict, int paranoid, bool needs) =>
        Assert.Equal(needs, PrivilegePlan.KallsymsNeedsSyslog(kptrRestrict, paranoid));

    [Fact]
    public void The_start_set_is_what_opening_every_source_and_switching_user_take()
    {
        Assert.Equal("CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_NET_ADMIN CAP_SYS_ADMIN CAP_SYSLOG CAP_PERFMON", PrivilegePlan.StartSet.ToString());
        // Whatever may be kept after the drop is in it.
        var most = PrivilegePlan.For(new AgentNeeds(true, true, true)).Keep;
        Assert.Equal(most.Bits, most.Bits & PrivilegePlan.StartSet.Bits);
    }

    [Fact]
    public void A_thread_left_as_root_or_with_capabilities_is_reported()
    {
        var nobody = new UnixUser("nobody", 65534, 65534);
        var keep = CapabilitySet.Of(Capability.Syslog);
        var dropped = ThreadCredentials.Parse(Status("65534", "0000000000000000", "000001ffffffffff", 1));
        var keeper = ThreadCredentials.Parse(Status("65534", "0000000400000000", "0000000400000000", 1));

        Assert.Null(dropped.Problem(nobody, keep, keepsCapabilities: false));
        Assert.Null(keeper.Problem(nobody, keep, keepsCapabilities: true));
        Assert.Contains("uids 0 0 0 0", ThreadCredentials.Parse(Status("0", "0000000000000000", "000001ffffffffff", 1)).Problem(nobody, keep, false));
        Assert.Contains("permitted 0000000400000000", keeper.Problem(nobody, keep, keepsCapabilities: false));
        Assert.Contains("bounding set", ThreadCredentials.Parse(Status("65534", "0000000400000000", "000001ffffffffff", 1)).Problem(nobody, keep, true));
        Assert.Equal("no_new_privs not set", ThreadCredentials.Parse(Status("65534", "0000000000000000", "000001ffffffffff", 0)).Problem(nobody, keep, false));
    }

    /// <summary>The lines of /proc/PID/task/TID/status a drop is checked against, as the kernel writes them.</summary>
    private static string Status(string uid, string permittedAndEffective, string bounding, int noNewPrivs) => $"""
        Name:	dotnet
        Uid:	{uid}	{uid}	{uid}	{uid}
        Gid:	{uid}	{uid}	{uid}	{uid}
        FDSize:	256
        Groups:	
        CapInh:	0000000000000000
        CapPrm:	{permittedAndEffective}
        CapEff:	{permittedAndEffective}
        CapBnd:	{bounding}
        CapAmb:	0000000000000000
        NoNewPrivs:	{noNewPrivs}
        Seccomp:	2
        """;
}
