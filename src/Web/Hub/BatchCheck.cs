using DropBoard.Shared.Contracts;
using DropBoard.Web.Sessions.Import;
using static DropBoard.Web.Sessions.Import.ImportLimits;

namespace DropBoard.Web.Hub;

/// <summary>
/// What makes a batch from the network unacceptable, said in words. Pure, so it is tested directly.
/// </summary>
/// <remarks>
/// Every name an agent sends ends up on teammates' pages, charts and tooltips. The pages escape them; these bounds
/// also keep each name to what a kernel and a host really produce, so a name that is markup or a megabyte long is
/// refused here, with the field that carries it. The rules are the import's (<see cref="KernelNames"/>,
/// <see cref="ImportText"/>), so a session recorded live can be exported and imported again.
/// </remarks>
public static class BatchCheck
{
    public const int MaxBuckets = 200_000, MaxCounters = 20_000, MaxSamples = 10_000;

    /// <summary>Flow sites a batch may carry: one per (site, namespace), as many as the bpf program's map holds keys.</summary>
    public const int MaxFlowSites = 16_384;

    public sealed record Result(AgentHello? Hello, AgentBatch? Batch, string? Problem);

    public static Result Read(Incoming<AgentHello>? hello, Incoming<AgentBatch>? batch)
    {
        if (hello?.Problem is { } notHello) return new Result(null, null, $"the hello is not an agent hello ({notHello})");
        if (batch?.Problem is { } notBatch) return new Result(hello?.Value, null, $"the batch is not an agent batch ({notBatch})");
        return new Result(hello?.Value, batch?.Value, Problem(hello?.Value, batch?.Value));
    }

    /// <summary>As <see cref="Read"/>, the batch packed (<see cref="BatchPacking"/>).</summary>
    public static Result ReadPacked(Incoming<AgentHello>? hello, Incoming<byte[]>? packed)
    {
        if (packed?.Problem is { } notBytes) return Read(hello, new Incoming<AgentBatch>(null, $"not base64 bytes: {notBytes}"));
        if (packed?.Value is not { } bytes) return Read(hello, null);
        var (batch, problem) = BatchPacking.Unpack(bytes);
        return Read(hello, new Incoming<AgentBatch>(batch, problem));
    }

    public static string? Problem(AgentHello? hello, AgentBatch? batch)
    {
        if (hello is null || batch is null) return "hello and batch are both required";
        if (string.IsNullOrWhiteSpace(hello.HostId) || string.IsNullOrWhiteSpace(hello.HostName)) return "hello has no host id or name";
        var helloProblem = Printable("hello.hostId", hello.HostId, MaxHostName)
            ?? Printable("hello.hostName", hello.HostName, MaxHostName)
            ?? Printable("hello.kernelRelease", hello.KernelRelease, MaxLabel)
            ?? Printable("hello.source", hello.Source, MaxLabel)
            ?? Printable("hello.agentVersion", hello.AgentVersion, MaxLabel)
            // Agents older than the instance id send none.
            ?? (string.IsNullOrEmpty(hello.InstanceId) ? null : Printable("hello.instanceId", hello.InstanceId, MaxLabel))
            ?? (hello.LostRecordsFix is null ? null : Printable("hello.lostRecordsFix", hello.LostRecordsFix, MaxLabel));
        if (helloProblem is not null) return helloProblem;
        if (batch.HostId != hello.HostId) return $"batch is for host {Quote(batch.HostId)} but the hello says '{hello.HostId}'";
        if (batch.Sequence < 1) return $"sequence {batch.Sequence} is not positive";
        if (batch.Drops is null || batch.Counters is null || batch.Samples is null) return "drops, counters and samples must be lists (empty is fine)";
        if (batch.Drops.Count > MaxBuckets || batch.Counters.Count > MaxCounters || batch.Samples.Count > MaxSamples)
            return $"too large: {batch.Drops.Count} buckets, {batch.Counters.Count} counters, {batch.Samples.Count} samples";
        if (batch.LostRecords < 0 || batch.SamplesSuppressed < 0) return "negative lost or suppressed count";
        if (batch.BatchesDiscarded < 0 || batch.DropsDiscarded < 0) return "negative discarded count";
        if (batch.SpoolProblem is not null && Printable("batch.spoolProblem", batch.SpoolProblem, MaxLabel) is { } spoolProblem) return spoolProblem;
        return Buckets("drops", batch.Drops)
            ?? (batch.Frees is null ? null : Buckets("frees", batch.Frees))
            ?? Counters(batch.Counters)
            ?? (batch.CounterTexts is null ? null : CounterTexts(batch.CounterTexts))
            ?? Samples(batch.Samples)
            ?? (batch.Flows is null ? null : Flows(batch.Flows))
            ?? (batch.Paths is null ? null : Paths(batch.Paths));
    }

    /// <summary>Each site's paths (--stacks): bounded as the agent bounds them, every frame a site as drop sites are, the drops adding up.</summary>
    private static string? Paths(IReadOnlyList<PathSite> sites)
    {
        if (sites.Count > MaxFlowSites) return $"too large: {sites.Count} path sites, at most {MaxFlowSites}";
        for (var i = 0; i < sites.Count; i++)
        {
            var s = sites[i];
            if (s is null || s.Top is null || s.Drops < 0 || s.Other < 0)
                return $"paths[{i}]: a path site has no top list or a negative count ({s?.Drops} drops, {s?.Other} other)";
            if (Where(s.Site, s.Function, null) is { } problem) return $"paths[{i}]{problem}";
            if (s.NetnsName is not null && Printable($"paths[{i}].netnsName", s.NetnsName, MaxLabel) is { } netnsProblem) return netnsProblem;
            if (s.Top.Count > PathSite.MaxTop) return $"paths[{i}]: {s.Top.Count} top paths, at most {PathSite.MaxTop}";
            for (var j = 0; j < s.Top.Count; j++)
                if (PathProblem(s.Top[j]) is { } pathProblem) return $"paths[{i}].top[{j}]: {pathProblem}";
            if (s.Top.Sum(p => p.Drops) + s.Other != s.Drops)
                return $"paths[{i}]: its paths' drops and the other drops make {s.Top.Sum(p => p.Drops) + s.Other}, not the site's {s.Drops}";
        }
        return null;
    }

    private static string? PathProblem(StackPath path)
    {
        if (path is null || path.Frames is null || path.Drops < 0) return "a path has no frames list or a negative count";
        if (path.Frames.Count > StackPath.MaxFrames) return $"{path.Frames.Count} frames, at most {StackPath.MaxFrames}";
        if (path.Missing is not null && !KernelNames.IsReason(path.Missing))
            return $"missing {Quote(path.Missing)} is not an errno name ({KernelNames.ReasonRule}; at most {MaxReason})";
        for (var k = 0; k < path.Frames.Count; k++)
            if (!DropBoard.Shared.Sites.DropSite.TryParse(path.Frames[k], out var frame) || Where(path.Frames[k], frame.Function, null) is not null)
                return $"frames[{k}] {Quote(path.Frames[k])} is not a kernel address as 'function+0xOFFSET' or 'function+0xOFFSET [module]'";
        return null;
    }

    private static string? Flows(IReadOnlyList<FlowSite> sites)
    {
        if (sites.Count > MaxFlowSites) return $"too large: {sites.Count} flow sites, at most {MaxFlowSites}";
        for (var i = 0; i < sites.Count; i++)
        {
            var s = sites[i];
            if (s is null || s.Top is null || s.Sampled < 0 || s.NotSampled < 0)
                return $"flows[{i}]: a flow site has no top list or a negative count ({s?.Sampled} sampled, {s?.NotSampled} not)";
            if (Where(s.Site, s.Function, null) is { } problem) return $"flows[{i}]{problem}";
            if (s.NetnsName is not null && Printable($"flows[{i}].netnsName", s.NetnsName, MaxLabel) is { } netnsProblem) return netnsProblem;
            if (s.Top.Count > FlowSite.MaxTop) return $"flows[{i}]: {s.Top.Count} top flows, at most {FlowSite.MaxTop}";
            for (var j = 0; j < s.Top.Count; j++)
                if (KernelNames.FlowProblem(s.Top[j]) is { } flowProblem) return $"flows[{i}].top[{j}]: {flowProblem}";
        }
        return null;
    }


    private static string? Buckets(string list, IReadOnlyList<DropBucket> buckets)
    {
        for (var i = 0; i < buckets.Count; i++)
        {
            var d = buckets[i];
            if (d is null || d.Count <= 0)
                return $"{list}[{i}]: a drop bucket has no site or a count that is not positive ({Quote(d?.Site)}: {d?.Count})";
            if (Where(d.Site, d.Function, d.Reason) is { } problem) return $"{list}[{i}]{problem}";
            if (d.NetnsName is not null && Printable($"{list}[{i}].netnsName", d.NetnsName, MaxLabel) is { } netnsProblem) return netnsProblem;
        }
        return null;
    }

    private static string? Counters(IReadOnlyList<CounterDelta> counters)
    {
        for (var i = 0; i < counters.Count; i++)
        {
            var c = counters[i];
            if (c is null || string.IsNullOrEmpty(c.Name) || c.Delta < 0)
                return $"counters[{i}]: a counter delta has no name or is negative ({Quote(c?.Name)}: {c?.Delta})";
            if (!KernelNames.IsCounter(c.Name))
                return $"counters[{i}].name {Quote(c.Name)} is not a counter name ({KernelNames.CounterRule}; at most {MaxCounterName})";
        }
        return null;
    }

    private static string? CounterTexts(IReadOnlyDictionary<string, string> texts)
    {
        if (texts.Count > MaxCounters) return $"too large: {texts.Count} counter texts, at most {MaxCounters}";
        foreach (var (name, text) in texts)
        {
            if (!KernelNames.IsCounter(name))
                return $"counterTexts: {Quote(name)} is not a counter name ({KernelNames.CounterRule}; at most {MaxCounterName})";
            if (Printable($"counterTexts[{Quote(name)}]", text, MaxCounterText) is { } problem) return problem;
        }
        return null;
    }

    private static string? Samples(IReadOnlyList<DropSample> samples)
    {
        for (var i = 0; i < samples.Count; i++)
        {
            var s = samples[i];
            if (s is null) return $"samples[{i}] is null";
            if (Where(s.Site, s.Function, s.Reason) is { } problem) return $"samples[{i}]{problem}";
            if (s.InPort is not null && !KernelNames.IsInPort(s.InPort))
                return $"samples[{i}].inPort {Quote(s.InPort)} is neither a device name (at most {MaxDeviceName} letters, digits, '_', '.', '@', '-') nor 'ifindex N'";
        }
        return null;
    }

    /// <summary>
    /// What is wrong with the function, site and reason of a bucket or sample, from the field on (<c>.site '…' is not …</c>):
    /// the caller puts where it is in front, so a right one costs no text.
    /// </summary>
    private static string? Where(string? site, string? function, string? reason)
    {
        if (!KernelNames.IsSymbol(function))
            return $".function {Quote(function)} is not a kernel symbol ({KernelNames.SymbolRule}; at most {MaxSymbol})";
        if (!KernelNames.IsSiteOf(site, function!))
            return $".site {Quote(site)} is not '{function}+0xOFFSET', '{function}+0xOFFSET [module]', '{function}' or '{function} (description)'";
        if (reason is not null && !KernelNames.IsReason(reason))
            return $".reason {Quote(reason)} is not a drop reason ({KernelNames.ReasonRule}; at most {MaxReason})";
        return null;
    }

    /// <summary>Text people chose (host names): any printable character, none that moves, hides or breaks lines.</summary>
    private static string? Printable(string field, string? text, int max) =>
        string.IsNullOrEmpty(text) ? $"{field} is missing" : ImportText.Problem(text, max) is { } problem ? $"{field} {problem}" : null;

    private static string Quote(string? text) => text is null ? "(none)" : $"'{ImportException.Excerpt(text)}'";
}
