using System.Globalization;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Privileges;

/// <summary>
/// With NET_DM (Debian's 6.1 kernel in a VM: this machine's has no drop_monitor) an agent run as nobody keeps
/// CAP_NET_ADMIN on its one privileged thread, and with it stops the kernel's monitor when it ends: the kernel's
/// reference count on drop_monitor is back to 0.
/// </summary>
public sealed class DroppedPrivilegesWithNetDmInVmTests
{
    private const ulong CapNetAdmin = 1UL << 12;
    private const ulong CapSyslog = 1UL << 34;

    [Fact]
    public async Task As_nobody_the_agent_keeps_net_admin_on_one_thread_and_stops_its_monitor_at_exit()
    {
        TestVm.Require();
        using var vm = new TestVm();
        var (code, console) = await vm.RunAsync("""
            modprobe drop_monitor
            cat /proc/sys/kernel/kptr_restrict /proc/sys/kernel/perf_event_paranoid >sysctls
            env --default-signal=INT $AGENT watch --source netdm --user nobody >/dev/null 2>agent.err &
            agent=$!
            wait_for agent.err "watching" 90 || exit 11
            netdm_refs >during.refs
            for t in /proc/$agent/task/*; do
                # A short-lived thread (the runtime's) may end between the listing and the read: it is not listed.
                comm=$(cat $t/comm 2>/dev/null) && status=$(grep -E '^(Uid|CapPrm|CapEff|CapBnd|NoNewPrivs):' $t/status 2>/dev/null) || continue
                echo "$comm|$(echo "$status" | tr '\t\n' '  ')"
            done >threads
            kill -TERM $agent; wait $agent; echo $? >agent.exit
            netdm_refs >after.refs
            """);
        Assert.True(code == 0, console + vm.Read("agent.err"));
        var err = vm.Read("agent.err");
        Assert.Contains("using NET_DM in summary mode (asked for); watching", err);
        Assert.Contains("now user nobody", err);
        Assert.True(int.Parse(vm.Read("during.refs").Trim()) > 0, $"the kernel showed no monitor running while the agent watched: {err}");

        var sysctls = vm.Read("sysctls").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray();
        var expected = CapNetAdmin | (sysctls[0] == 0 && sysctls[1] <= 1 ? 0 : CapSyslog);
        var threads = vm.Read("threads").Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Thread).ToList();
        Assert.True(threads.Count > 5, vm.Read("threads"));
        Assert.All(threads, t => Assert.Equal(("65534 65534 65534 65534", "1"), (t.Fields["Uid"], t.Fields["NoNewPrivs"])));
        var keeper = Assert.Single(threads, t => Hex(t.Fields["CapPrm"]) != 0 || Hex(t.Fields["CapEff"]) != 0);
        Assert.Equal(("privileged", expected, expected, expected), (keeper.Name, Hex(keeper.Fields["CapPrm"]), Hex(keeper.Fields["CapEff"]), Hex(keeper.Fields["CapBnd"])));

        Assert.True(vm.Read("agent.exit").Trim() == "0", $"exit {vm.Read("agent.exit").Trim()}: {err}");
        Assert.DoesNotContain("stopping the drop monitor failed", err);
        Assert.True(int.Parse(vm.Read("after.refs").Trim()) == 0, $"the kernel's drop monitor is still on after the agent ended as nobody: {err}");
    }

    /// <summary>"privileged|Uid: 65534 65534 65534 65534 CapPrm: ... " as the guest script wrote it.</summary>
    private static (string Name, Dictionary<string, string> Fields) Thread(string line)
    {
        var bar = line.IndexOf('|');
        var words = line[(bar + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var fields = new Dictionary<string, string>();
        string? key = null;
        foreach (var word in words)
        {
            if (word.EndsWith(':')) fields[key = word.TrimEnd(':')] = "";
            else if (key is not null) fields[key] = (fields[key] + " " + word).Trim();
        }
        return (line[..bar], fields);
    }

    private static ulong Hex(string value) => ulong.Parse(value, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture);
}
