using DropBoard.Agent.Capture.Bpf;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Paths;

namespace DropBoard.Agent.Aggregation;

/// <summary>
/// The kernel stacks that led to each (site, namespace)'s drops between two batches (bpf source, <c>--stacks</c>): the
/// capture thread adds the kernel's path counts as it reads them, <see cref="Flush"/> (batching thread) names the
/// frames and hands out each site's top paths. Pure: stacks arrive as addresses. Stacks that name the same frames
/// once cut to <see cref="StackPath.MaxFrames"/> are one path; drops without a stack are a path of their own, named
/// by why, so every drop of a site is on some path.
/// </summary>
public sealed class PathTable
{
    private readonly Lock _gate = new();
    private Dictionary<(ulong Pc, uint Netns), Dictionary<int, Stack>> _sites = [];

    private sealed class Stack(ulong[]? frames)
    {
        public readonly ulong[]? Frames = frames;
        public long Drops;
    }

    /// <param name="stackId">The kernel's stack id; negative: the errno that left the drops without a stack.</param>
    /// <param name="frames">The stack's addresses, innermost first (the kernel's stack map value); null when it has none.</param>
    public void Add(ulong pc, uint netns, int stackId, ulong[]? frames, long drops)
    {
        if (drops == 0) return;
        lock (_gate)
        {
            if (!_sites.TryGetValue((pc, netns), out var stacks)) _sites[(pc, netns)] = stacks = [];
            if (!stacks.TryGetValue(stackId, out var stack)) stacks[stackId] = stack = new Stack(stackId < 0 ? null : frames);
            stack.Drops += drops;
        }
    }

    /// <summary>Everything since the last flush, each site's top paths most first; sites ordered by drops.</summary>
    /// <param name="siteOf">Names an address as drop sites are named (<c>function+0xoff</c>).</param>
    public IReadOnlyList<PathSite> Flush(Func<ulong, (string Site, string Function)> siteOf, Func<uint, string?>? namespaceName)
    {
        Dictionary<(ulong Pc, uint Netns), Dictionary<int, Stack>> taken;
        lock (_gate)
        {
            if (_sites.Count == 0) return [];
            (taken, _sites) = (_sites, []);
        }
        var sites = new List<PathSite>(taken.Count);
        foreach (var ((pc, netns), stacks) in taken)
        {
            // Stacks that name the same frames are one path: summed as the terminal and the dashboard sum them.
            var tally = new PathTally(int.MaxValue);
            foreach (var (id, stack) in stacks)
                tally.Add(0, [stack.Frames is { } pcs ? new StackPath(Name(pcs, pc, siteOf), stack.Drops) : new StackPath([], stack.Drops, KernelStack.Missing(id))]);
            var (name, function) = siteOf(pc);
            sites.Add(tally.ToSite(name, function, netns, netns == 0 ? null : namespaceName?.Invoke(netns)));
        }
        sites.Sort(static (a, b) => b.Drops.CompareTo(a.Drops));
        return sites;
    }

    private static string[] Name(ulong[] stack, ulong pc, Func<ulong, (string Site, string Function)> siteOf)
    {
        var frames = KernelStack.FromSite(stack, pc);
        var names = new string[Math.Min(frames.Length, StackPath.MaxFrames)];
        for (var i = 0; i < names.Length; i++) names[i] = siteOf(frames[i]).Site;
        return names;
    }
}
