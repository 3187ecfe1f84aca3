using System.Runtime.Versioning;
using DropBoard.Agent.Uplink;
using DropBoard.TestKit;
using static Tmds.Linux.LibC;

namespace DropBoard.Agent.Tests.Uplink;

/// <summary>Real files with real modes and owners, read the way <c>run --token-file</c> reads them.</summary>
[SupportedOSPlatform("linux")]
public sealed class CredentialFileTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("dropboard-credential-test-");

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite)]
    [InlineData(UnixFileMode.UserRead)]
    public void A_file_only_its_owner_can_use_gives_its_first_line_trimmed(UnixFileMode mode)
    {
        var path = Write("  s3cret \t\nnot this line\n", mode);

        Assert.Equal("s3cret", CredentialFile.Read(path));
    }

    [Theory]
    [InlineData("0644")]
    [InlineData("0640")]
    [InlineData("0604")]
    [InlineData("0620")]
    [InlineData("0602")]
    [InlineData("0610")]
    public void A_file_group_or_others_may_read_or_write_is_refused_with_the_chmod_that_fixes_it(string octal)
    {
        var path = Write("s3cret\n", (UnixFileMode)Convert.ToInt32(octal, 8));

        var e = Assert.Throws<CredentialFileException>(() => CredentialFile.Read(path));
        Assert.Contains($"(mode {octal})", e.Message);
        Assert.Equal($"chmod 600 {path}", e.Fix);
    }

    [Fact]
    public void A_file_owned_by_another_user_is_refused_even_to_root()
    {
        Privileged.RequireRoot();
        var path = Write("s3cret\n", UnixFileMode.UserRead | UnixFileMode.UserWrite);
        Commands.Run("chown", "65534", path);

        var e = Assert.Throws<CredentialFileException>(() => CredentialFile.Read(path));
        Assert.Contains("belongs to uid 65534, not to the agent's uid 0", e.Message);
        Assert.Equal($"chown 0 {path}", e.Fix);
    }

    [Fact]
    public void Root_may_use_roots_file_and_any_other_agent_user_only_its_own()
    {
        var file = (uint)S_IFREG | (uint)(UnixFileMode.UserRead | UnixFileMode.UserWrite);

        Assert.Null(CredentialFile.Refusal("/etc/dropboard/token", file, owner: 0, agentUid: 0));
        Assert.Null(CredentialFile.Refusal("/etc/dropboard/token", file, owner: 1000, agentUid: 1000));
        Assert.Contains("belongs to uid 0, not to the agent's uid 1000", CredentialFile.Refusal("/etc/dropboard/token", file, owner: 0, agentUid: 1000)?.Message);
    }

    [Fact]
    public void A_missing_file_is_refused_with_where_the_credential_comes_from()
    {
        var path = Path.Combine(_directory.FullName, "absent");

        var e = Assert.Throws<CredentialFileException>(() => CredentialFile.Read(path));
        Assert.Equal($"{path} does not exist", e.Message);
        Assert.Contains("agents add HOST", e.Fix);
    }

    [Fact]
    public void A_directory_is_refused_as_not_a_regular_file()
    {
        var e = Assert.Throws<CredentialFileException>(() => CredentialFile.Read(_directory.FullName));

        Assert.Equal($"{_directory.FullName} is not a regular file but a directory", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("  \nsecret on the second line\n")]
    public void A_file_without_a_secret_on_its_first_line_is_refused(string text)
    {
        var path = Write(text, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var e = Assert.Throws<CredentialFileException>(() => CredentialFile.Read(path));
        Assert.Equal($"{path} holds no secret on its first line", e.Message);
    }

    private string Write(string text, UnixFileMode mode)
    {
        var path = Path.Combine(_directory.FullName, "agent-token");
        File.WriteAllText(path, text);
        File.SetUnixFileMode(path, mode);
        return path;
    }

    public void Dispose() => _directory.Delete(recursive: true);
}
