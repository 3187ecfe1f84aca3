using System.CommandLine;
using System.Globalization;
using DropBoard.Agent.Capture.NetDm;
using DropBoard.Agent.Pipeline;

namespace DropBoard.Agent.Privileges;

/// <summary>
/// Gives up what the agent no longer needs once its sources are open: with <c>--user NAME</c> every thread becomes
/// that user with no capabilities, except one thread (<see cref="KeptPrivileges"/>) that keeps the <see cref="PrivilegePlan"/>'s
/// few; and no thread may gain privileges again (no_new_privs). Only leaving uid 0 takes capabilities from every
/// thread of a process at once (glibc applies setresuid to all threads and the kernel clears the capabilities of
/// those without keep-caps), so without --user the agent keeps root's capabilities and says so.
/// </summary>
public static class PrivilegeDrop
{
    public static readonly Option<string?> UserOption = new("--user")
    {
        HelpName = "NAME",
        Description = "Once capturing, switch to this user, keeping only the capabilities still needed (on one thread); the agent must start as root",
    };

    /// <summary>
    /// For the CLI: gives up what <paramref name="pipeline"/> no longer needs and says what was kept and what no longer
    /// works; false, after saying why, when that failed or <paramref name="writableDirectory"/> is not writable afterwards.
    /// </summary>
    public static async Task<bool> DropOrSayWhyAsync(AgentPipeline pipeline, AgentOptions options, string? userName, string? writableDirectory = null)
    {
        try
        {
            if (userName is null)
            {
                await Console.Error.WriteLineAsync($"dropboard-agent: {(Environment.IsPrivilegedProcess ? "keeping root's capabilities (pass --user NAME to give them up); " : "")}{NoNewPrivileges()}");
                return true;
            }
            var user = UnixUser.Resolve(userName);
            var plan = PrivilegePlan.For(new AgentNeeds(
                StopsNetDmMonitor: pipeline.Source is NetDmSource { OwnsMonitor: true },
                KallsymsNeedsSyslog: PrivilegePlan.KallsymsNeedsSyslog(ReadSysctl("kernel/kptr_restrict"), ReadSysctl("kernel/perf_event_paranoid")),
                FollowsNetNamespace: options.NetNamespace is not null));
            Apply(plan, user);
            if (writableDirectory is not null) RequireWritable(writableDirectory, user);
            await Console.Error.WriteLineAsync($"dropboard-agent: now user {user.Name} (uid {user.Uid}, gid {user.Gid}) with no new privileges; "
                                               + (plan.Keep.IsEmpty ? "every capability given up" : $"kept on one thread: {string.Join("; ", plan.Reasons)}; every other capability given up"));
            foreach (var loss in plan.GivenUp)
                await Console.Error.WriteLineAsync($"dropboard-agent: as user {user.Name}: {loss}");
            return true;
        }
        catch (PrivilegeDropException e)
        {
            await Console.Error.WriteLineAsync($"dropboard-agent: cannot give up privileges: {e.Message}. Fix: {e.Fix}");
            return false;
        }
    }

    /// <summary>Without --user no_new_privs is a bonus: a kernel without seccomp costs it, not the capture.</summary>
    private static string NoNewPrivileges()
    {
        try
        {
            Capabilities.ForbidNewPrivilegesOnEveryThread();
            return "no new privileges";
        }
        catch (PrivilegeDropException e)
        {
            return $"no_new_privs not set ({e.Message})";
        }
    }

    /// <summary>Every thread becomes <paramref name="user"/>; the capabilities of <paramref name="plan"/> stay on one thread only.</summary>
    internal static void Apply(PrivilegePlan plan, UnixUser user)
    {
        if (!Environment.IsPrivilegedProcess)
            throw new PrivilegeDropException($"--user {user.Name} needs the agent started as root (it runs as uid {Tmds.Linux.LibC.geteuid()})",
                "start it as root, e.g. from deploy/dropboard-agent.service, or leave --user out");
        if (plan.Keep.IsEmpty)
            SwitchEveryThread(user, CapabilitySet.None);
        else
            KeptPrivileges.Start(() => SwitchEveryThread(user, plan.Keep));
        Capabilities.ForbidNewPrivilegesOnEveryThread();
        ThreadCredentials.Verify(user, plan.Keep, KeptPrivileges.ThreadId);
    }

    /// <summary>Runs on the thread that keeps <paramref name="keep"/>; every other thread ends with no capability.</summary>
    private static void SwitchEveryThread(UnixUser user, CapabilitySet keep)
    {
        var keeps = !keep.IsEmpty;
        if (keeps)
        {
            Capabilities.KeepAcrossUidChange(true);
            Capabilities.LimitBoundingSet(keep);
        }
        Capabilities.ClearAmbient();
        Capabilities.SwitchUser(user.Uid, user.Gid);
        if (!keeps) return;
        Capabilities.SetOwn(keep);
        Capabilities.KeepAcrossUidChange(false);
    }

    /// <summary>The spool must take new batches as the new user: tried, not guessed from modes.</summary>
    private static void RequireWritable(string directory, UnixUser user)
    {
        var probe = Path.Combine(directory, $".write-test-{Environment.ProcessId}");
        try
        {
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new PrivilegeDropException($"user {user.Name} cannot write the spool directory {directory} ({e.Message})",
                $"chown {user.Name} {directory} (deploy/dropboard-agent.service and the container image do)");
        }
    }

    private static int ReadSysctl(string name)
    {
        try
        {
            return int.Parse(File.ReadAllText($"/proc/sys/{name}").Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException)
        {
            return int.MaxValue; // unknown: assume the strictest setting
        }
    }
}
