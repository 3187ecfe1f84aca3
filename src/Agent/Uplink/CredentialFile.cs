using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;
using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace DropBoard.Agent.Uplink;

/// <summary>Why the agent will not use a credential file, and the command that fixes it.</summary>
public sealed class CredentialFileException(string message, string fix) : Exception(message)
{
    public string Fix { get; } = fix;
}

/// <summary>
/// The agent's secret read from <c>--token-file</c>, so it is not on the command line, which every user of
/// the host sees in <c>ps</c>. Like ssh with a private key, the file is refused unless only the agent's
/// own user can read it: a secret others can read is as good as published.
/// </summary>
public static class CredentialFile
{
    private const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private const string WhereSecretsComeFrom = "the dashboard's DropBoard:AgentToken, or the secret 'agents add HOST' printed";

    /// <summary>The secret on the file's first line.</summary>
    /// <exception cref="CredentialFileException">The file is missing, unreadable, not a regular file, open to others, someone else's, or empty.</exception>
    public static unsafe string Read(string path)
    {
        // Checked on the open file, so the file checked is the file read; non-blocking, so a FIFO is
        // refused below instead of hanging the agent until someone writes to it.
        int fd;
        fixed (byte* name = Encoding.UTF8.GetBytes(path + '\0'))
            fd = open(name, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) throw CannotOpen(path, Marshal.GetLastSystemError(), geteuid());
        using var handle = new SafeFileHandle(fd, ownsHandle: true);
        stat status;
        if (fstat(fd, &status) != 0) throw new CredentialFileException($"cannot read {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastSystemError())}", $"check {path}");
        if (Refusal(path, (uint)status.st_mode, status.st_uid, geteuid()) is { } refusal) throw refusal;
        string? firstLine;
        try
        {
            using var reader = new StreamReader(new FileStream(handle, FileAccess.Read));
            firstLine = reader.ReadLine();
        }
        catch (IOException e)
        {
            throw new CredentialFileException($"cannot read {path}: {e.Message}", $"check {path}");
        }
        return Secret(path, firstLine);
    }

    /// <summary>Why a file of this type, mode and owner may not hold the agent's secret; null when it may.</summary>
    /// <param name="mode">The file's <c>st_mode</c>: type and permission bits.</param>
    internal static CredentialFileException? Refusal(string path, uint mode, uint owner, uint agentUid)
    {
        var type = mode & (uint)S_IFMT;
        if (type != (uint)S_IFREG)
            return new($"{path} is not a regular file but {TypeName(type)}", "point --token-file at the file holding the secret");
        if (owner != agentUid)
            return new($"{path} belongs to uid {owner}, not to the agent's uid {agentUid}: whoever owns it can read or replace the secret",
                $"chown {agentUid} {path}");
        var permissions = (UnixFileMode)(mode & ~(uint)S_IFMT);
        if ((permissions & GroupOrOthers) != 0)
            return new($"{path} is readable or writable by group or others (mode {Convert.ToString((int)permissions, 8).PadLeft(4, '0')}): the secret must be the agent user's alone",
                $"chmod 600 {path}");
        return null;
    }

    /// <summary>The secret is the first line, without surrounding blanks; a file without one is refused.</summary>
    internal static string Secret(string path, string? firstLine) =>
        firstLine?.Trim() is { Length: > 0 } secret
            ? secret
            : throw new CredentialFileException($"{path} holds no secret on its first line", $"write the credential there ({WhereSecretsComeFrom})");

    private static CredentialFileException CannotOpen(string path, int error, uint agentUid) =>
        error == ENOENT ? new($"{path} does not exist", $"write the credential there ({WhereSecretsComeFrom}), then chmod 600 {path}")
        : error == EACCES ? new($"{path} is not readable by the agent's uid {agentUid}", $"chown {agentUid} {path} && chmod 600 {path}")
        : new($"cannot open {path}: {Marshal.GetPInvokeErrorMessage(error)}", $"check {path}");

    // Tmds.LibC's S_IF* are properties, not constants: no switch.
    private static string TypeName(uint type) =>
        type == (uint)S_IFDIR ? "a directory"
        : type == (uint)S_IFIFO ? "a FIFO"
        : type == (uint)S_IFSOCK ? "a socket"
        : type == (uint)S_IFCHR ? "a character device"
        : type == (uint)S_IFBLK ? "a block device"
        : $"of type {type:x}";
}
