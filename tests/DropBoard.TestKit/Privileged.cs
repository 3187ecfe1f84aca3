using Xunit;

namespace DropBoard.TestKit;

/// <summary>
/// Tests that need root or a kernel feature call <see cref="Require"/>. On a laptop a missing
/// capability skips the test with its reason; under DROPBOARD_REQUIRE_PRIVILEGED=1 (CI) it fails it,
/// so nothing is skipped unseen.
/// </summary>
public static class Privileged
{
    public static bool Required => Environment.GetEnvironmentVariable("DROPBOARD_REQUIRE_PRIVILEGED") == "1";

    public static bool IsRoot => Environment.UserName == "root" || Tmds.Linux.LibC.geteuid() == 0;

    public static void Require(bool available, string whatIsMissing)
    {
        if (available) return;
        if (Required)
            Assert.Fail($"DROPBOARD_REQUIRE_PRIVILEGED=1 but {whatIsMissing}");
        Assert.Skip(whatIsMissing);
    }

    public static void RequireRoot() =>
        Require(IsRoot, "this test needs root (network namespaces, perf events): run it with sudo");

    public static void RequireCommand(string command, string debianPackage) =>
        Require(Commands.Exists(command), $"'{command}' is not installed (apt-get install {debianPackage})");
}
