using System.Text.RegularExpressions;

namespace DropBoard.Agent.Namespaces;

/// <summary>
/// The container a process runs in, read from its <c>/proc/PID/cgroup</c> text: the runtimes put the container's
/// 64-hex id in the cgroup path (<c>docker-ID.scope</c>, <c>/docker/ID</c>, <c>cri-containerd-ID.scope</c>,
/// <c>crio-ID.scope</c>, <c>libpod-ID.scope</c>). Pure, so it is tested on real cgroup lines.
/// </summary>
public static partial class ContainerId
{
    /// <summary><c>docker 0123456789ab</c> (runtime and the short id <c>docker ps</c> shows), or null outside a container.</summary>
    public static string? FromCgroup(string cgroupText)
    {
        foreach (var line in cgroupText.Split('\n'))
        {
            // Each line is hierarchy-id:controllers:path; the path is the last field.
            var path = line[(line.LastIndexOf(':') + 1)..];
            var match = Id().Matches(path).LastOrDefault();
            if (match is null) continue;
            var runtime = match.Groups["runtime"].Value.TrimEnd('-', '/') switch
            {
                "" or "docker" => "docker",
                "cri-containerd" => "containerd",
                "crio" => "cri-o",
                "libpod" => "podman",
                var other => other,
            };
            return $"{runtime} {match.Groups["id"].Value[..12]}";
        }
        return null;
    }

    [GeneratedRegex(@"(?<runtime>docker[-/]|cri-containerd-|crio-|libpod-)?(?<id>[0-9a-f]{64})(?:\.scope)?(?:/|$)")]
    private static partial Regex Id();
}
