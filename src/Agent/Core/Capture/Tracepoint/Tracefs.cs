using Tmds.Linux;
using static Tmds.Linux.LibC;

namespace DropBoard.Agent.Capture.Tracepoint;

/// <summary>Finds (and if needed mounts) tracefs, and reads event formats and ids from it.</summary>
public static class Tracefs
{
    private static readonly string[] Candidates = ["/sys/kernel/tracing", "/sys/kernel/debug/tracing"];

    public static string Locate()
    {
        foreach (var dir in Candidates)
            if (File.Exists(Path.Combine(dir, "available_events")) || Directory.Exists(Path.Combine(dir, "events")))
                return dir;

        // Not mounted: mount it where modern kernels expect it, as `mount -t tracefs nodev /sys/kernel/tracing` would.
        if (Directory.Exists(Candidates[0]) && Mount(Candidates[0]))
            return Candidates[0];

        throw new CaptureUnavailableException(
            "tracefs is not mounted and could not be mounted",
            "run as root, or `mount -t tracefs nodev /sys/kernel/tracing`");
    }

    public static TracepointFormat ReadFormat(string tracefs, string system, string @event)
    {
        var path = Path.Combine(tracefs, "events", system, @event, "format");
        if (!File.Exists(path))
            throw new CaptureUnavailableException(
                $"this kernel has no {system}:{@event} tracepoint ({path} missing)",
                "use a kernel built with CONFIG_TRACEPOINTS (any distribution kernel), or the NET_DM source");
        try
        {
            return TracepointFormat.Parse(File.ReadAllText(path));
        }
        catch (UnauthorizedAccessException)
        {
            throw new CaptureUnavailableException($"cannot read {path}", "run as root (sudo), or grant CAP_PERFMON and read access to tracefs");
        }
    }

    private static unsafe bool Mount(string target)
    {
        fixed (byte* source = "nodev\0"u8)
        fixed (byte* type = "tracefs\0"u8)
        {
            var targetBytes = System.Text.Encoding.UTF8.GetBytes(target + "\0");
            fixed (byte* t = targetBytes)
                return mount(source, t, type, 0, null) == 0;
        }
    }
}
