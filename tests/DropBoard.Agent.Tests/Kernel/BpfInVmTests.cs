using System.Runtime.InteropServices;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// The eBPF source on a second kernel: Debian's 6.1 (it has BTF) booted in the test VM, loading the same committed
/// object with this machine's libbpf. As on this machine's kernel, two namespaces flooded at once are each held to
/// their own Udp RcvbufErrors, exactly.
/// </summary>
public sealed class BpfInVmTests
{
    // A few datagrams fit in the buffer; every other one is a drop that all counts must agree on.
    private const int Datagrams = 200;

    [Fact]
    public async Task On_Debians_6_1_kernel_two_namespaces_flooded_at_once_each_count_exactly_their_own_RcvbufErrors()
    {
        TestVm.Require();
        Privileged.Require(NativeLibrary.TryLoad("libbpf.so.1", out _), "libbpf.so.1 is missing (Debian's libbpf1; the guest runs this machine's files)");
        using var boot = new TestVm { QuickJit = true };
        // No --netns: the agent reads each namespace's counters as it drops, as the ip netns names them.
        var vm = (await boot.RunSectionsAsync([("bpf", $$"""
            [ -r /sys/kernel/btf/vmlinux ] || { echo "the guest kernel has no BTF"; exit 20; }
            uname -r >kernel
            for ns in a b; do make_netns $ns; stat -L -c %i /run/netns/$ns >$ns.inode; done
            watch_udp_floods "a b" {{Datagrams}} --source bpf || exit 11
            """)]))["bpf"];
        NetDmInVmTests.AssertAgentRanCleanly(vm);
        Assert.StartsWith("6.1.", vm.Read("kernel"));
        Assert.Contains("using the eBPF program on kfree_skb (asked for)", vm.Read("agent.err"));

        var summary = NetDmInVmTests.Summary(vm.Read("agent.json"));
        foreach (var ns in new[] { "a", "b" })
        {
            var rcvbufErrors = long.Parse(vm.Read($"{ns}.rcvbuf-errors"));
            Assert.InRange(rcvbufErrors, Datagrams - 20, Datagrams); // a few fit in the buffer
            BpfSourceTests.AssertHeldToItsOwnCounters(summary, uint.Parse(vm.Read($"{ns}.inode")), ns, rcvbufErrors);
        }
        Assert.Equal(0, summary.GetProperty("lost").GetInt64());
    }
}
