using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Capture.Bpf;

/// <summary>The committed kfree_skb.bpf.o is what its source compiles to: CI rebuilds it and compares bytes.</summary>
public class BpfObjectTests
{
    [Fact]
    public void The_committed_object_matches_its_source()
    {
        Privileged.RequireCommand("clang", "clang");
        Privileged.RequireCommand("llvm-strip", "llvm");
        Privileged.Require(File.Exists("/usr/include/bpf/bpf_helpers.h"), "libbpf's headers are not installed (apt-get install libbpf-dev)");

        var (exit, stdout, stderr) = Commands.TryRun(Path.Combine(BpfDirectory(), "build.sh"), "--check");

        Assert.True(exit == 0, $"build.sh --check exited {exit}: {stdout}{stderr}");
    }

    private static string BpfDirectory() => SourceTree.Path("src", "Agent", "Core", "Capture", "Bpf");
}
