namespace DropBoard.Agent.Privileges;

/// <summary>What the running agent still does that the kernel checks a capability for, once its sources are open.</summary>
/// <param name="StopsNetDmMonitor">It started the kernel's NET_DM monitor, so it must send NET_DM_CMD_STOP when it ends.</param>
/// <param name="KallsymsNeedsSyslog">/proc/kallsyms shows real addresses only with CAP_SYSLOG (see <see cref="PrivilegePlan.KallsymsNeedsSyslog"/>).</param>
/// <param name="FollowsNetNamespace">It reads the counters of a named network namespace (--netns).</param>
public sealed record AgentNeeds(bool StopsNetDmMonitor, bool KallsymsNeedsSyslog, bool FollowsNetNamespace);

/// <summary>
/// Which capabilities the agent keeps after its sources are open, and why; everything else is given up. Perf events,
/// netlink sockets, tracefs formats, counter files and the namespace thread are open by then, and the kernel checks
/// none of them again on use. What is still checked:
/// <list type="bullet">
/// <item>NET_DM_CMD_STOP is a GENL_ADMIN_PERM command: CAP_NET_ADMIN, checked on the sending thread at the time.</item>
/// <item>A module load makes the symbolizer re-read /proc/kallsyms, whose addresses are zeros unless
/// kernel.kptr_restrict allows the reader (CAP_SYSLOG, or no check at all with kptr_restrict=0 and perf_event_paranoid &lt;= 1).</item>
/// </list>
/// Given up, and said so: joining a namespace again when <c>ip netns</c> re-creates the name (setns needs CAP_SYS_ADMIN,
/// far too much to keep for that).
/// </summary>
public sealed record PrivilegePlan(CapabilitySet Keep, IReadOnlyList<string> Reasons, IReadOnlyList<string> GivenUp)
{
    /// <summary>
    /// What the agent starts with to open every source and then drop to a user: perf_event_open (CAP_PERFMON), NET_DM's
    /// configure/start/stop (CAP_NET_ADMIN), its events group and --netns (CAP_SYS_ADMIN), kallsyms (CAP_SYSLOG), the user
    /// switch and the kept thread's bounding set (CAP_SETUID, CAP_SETGID, CAP_SETPCAP). deploy/dropboard-agent.service's
    /// CapabilityBoundingSet and docker-compose.yml's cap_add are exactly this.
    /// </summary>
    public static readonly CapabilitySet StartSet = CapabilitySet.Of(
        Capability.Perfmon, Capability.NetAdmin, Capability.SysAdmin, Capability.Syslog, Capability.SetUid, Capability.SetGid, Capability.SetPcap);

    public static PrivilegePlan For(AgentNeeds needs)
    {
        var keep = CapabilitySet.None;
        var reasons = new List<string>();
        var givenUp = new List<string>();
        if (needs.StopsNetDmMonitor)
        {
            keep = keep.With(Capability.NetAdmin);
            reasons.Add("CAP_NET_ADMIN to stop the kernel's NET_DM monitor when the agent ends");
        }
        if (needs.KallsymsNeedsSyslog)
        {
            keep = keep.With(Capability.Syslog);
            reasons.Add("CAP_SYSLOG to re-read /proc/kallsyms with its addresses when a module loads (kernel.kptr_restrict)");
        }
        if (needs.FollowsNetNamespace)
            givenUp.Add("--netns: if the namespace is deleted and added again under its name, its counters are no longer read "
                        + "(joining it needs CAP_SYS_ADMIN, given up); restart the agent then");
        return new PrivilegePlan(keep, reasons, givenUp);
    }

    /// <summary>
    /// Whether reading real addresses from /proc/kallsyms needs CAP_SYSLOG: kallsyms_show_value() shows them to
    /// everyone only with kptr_restrict 0 and perf_event_paranoid at most 1 (with kptr_restrict 2 nobody sees them,
    /// and the agent did not get this far).
    /// </summary>
    public static bool KallsymsNeedsSyslog(int kptrRestrict, int perfEventParanoid) => !(kptrRestrict == 0 && perfEventParanoid <= 1);
}
