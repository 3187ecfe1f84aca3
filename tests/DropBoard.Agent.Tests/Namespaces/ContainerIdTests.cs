using DropBoard.Agent.Namespaces;

namespace DropBoard.Agent.Tests.Namespaces;

/// <summary>Container ids from the cgroup lines the runtimes write (cgroup v2 and v1 layouts).</summary>
public sealed class ContainerIdTests
{
    private const string Id = "3f1e2d4c5b6a79880123456789abcdef0123456789abcdef0123456789abcdef";

    [Theory]
    [InlineData($"0::/system.slice/docker-{Id}.scope\n", "docker 3f1e2d4c5b6a")]
    [InlineData($"12:pids:/docker/{Id}\n11:memory:/docker/{Id}\n", "docker 3f1e2d4c5b6a")]
    [InlineData($"0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1a2b.slice/cri-containerd-{Id}.scope\n", "containerd 3f1e2d4c5b6a")]
    [InlineData($"0::/kubepods.slice/kubepods-burstable.slice/crio-{Id}.scope\n", "cri-o 3f1e2d4c5b6a")]
    [InlineData($"0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-{Id}.scope/container\n", "podman 3f1e2d4c5b6a")]
    public void Names_the_runtime_and_the_short_id(string cgroup, string expected) =>
        Assert.Equal(expected, ContainerId.FromCgroup(cgroup));

    [Theory]
    [InlineData("0::/\n")]
    [InlineData("0::/system.slice/ssh.service\n")]
    [InlineData("0::/user.slice/user-0.slice/session-4.scope\n")]
    [InlineData("")]
    public void A_process_outside_a_container_has_none(string cgroup) => Assert.Null(ContainerId.FromCgroup(cgroup));
}
