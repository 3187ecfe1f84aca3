using System.Globalization;
using static DropBoard.Web.Sessions.Import.ImportLimits;

namespace DropBoard.Web.Sessions.Import;

/// <summary>
/// A DropBoard export checked whole before any of it is stored: names as kernels, agents and people write them,
/// counts and sizes within <see cref="ImportLimits"/>, and every time inside the session. A problem starts with
/// the JSON path of the value, as <c>hosts[0].drops[12].function: ...</c>.
/// </summary>
internal static class SessionFileCheck
{
    public static void Check(SessionFile file, long nowMs)
    {
        if (file.Format != SessionFile.FormatName)
            throw new ImportException($"not a DropBoard session file: \"format\" is '{ImportException.Excerpt(file.Format ?? "")}', expected '{SessionFile.FormatName}'");
        if (file.Version != 1)
            throw new ImportException($"session file version {file.Version} is not one this DropBoard reads (1)");
        if (file.Hosts is null || file.Gaps is null || file.Hosts.Any(h => h?.Drops is null || h.Counters is null || h.Samples is null))
            throw new ImportException("session file is incomplete: hosts, gaps, and each host's drops, counters and samples must be lists");
        if (SessionLimits.NameProblem(file.Name ?? "") is { } name) throw At("name", name);
        Text("origin", file.Origin, MaxLabel);
        Text("notes", file.Notes, MaxNotes, lines: true);

        // A session still recording when it was exported has no stop: its data ends by now at the latest.
        var stoppedMs = file.StoppedMs ?? nowMs;
        if (file.StartedMs < 0 || file.StartedMs > nowMs + SpanToleranceMs)
            throw At("startedMs", $"{Time(file.StartedMs)} is not between 1970 and now");
        if (stoppedMs < file.StartedMs || stoppedMs - file.StartedMs > MaxSpanMs)
            throw At("stoppedMs", $"{Time(stoppedMs)} is not from the start {Time(file.StartedMs)} to {MaxSpanMs / 86_400_000} days after it");
        var span = new Span(file.StartedMs, stoppedMs);

        if (file.Hosts.Count > MaxHosts) throw At("hosts", $"{file.Hosts.Count} hosts, more than the {MaxHosts} an import takes");
        var hostIds = new HashSet<string>(StringComparer.Ordinal);
        var sites = new HashSet<(string Site, string? Reason, ushort Protocol, uint Netns)>();
        long buckets = 0, counters = 0;
        for (var h = 0; h < file.Hosts.Count; h++)
        {
            var host = file.Hosts[h];
            var path = $"hosts[{h}]";
            Text($"{path}.hostId", host.HostId, MaxHostName);
            Text($"{path}.hostName", host.HostName, MaxHostName);
            Text($"{path}.kernel", host.Kernel, MaxLabel);
            Text($"{path}.source", host.Source, MaxLabel);
            if (!hostIds.Add(host.HostId)) throw At($"{path}.hostId", $"'{ImportException.Excerpt(host.HostId)}' is the id of an earlier host too");
            if (host.BucketMs is < MinBucketMs or > MaxBucketMs)
                throw At($"{path}.bucketMs", $"{host.BucketMs} is not a bucket size from {MinBucketMs} ms to {MaxBucketMs / 1000} s");
            if (host.LostRecords is < 0 or > MaxCount) throw At($"{path}.lostRecords", $"{host.LostRecords} is not a count from 0 to {MaxCount}");

            if ((buckets += host.Drops.Count) > MaxBuckets) throw At($"{path}.drops", $"brings the drop buckets to {buckets}, more than the {MaxBuckets} an import takes");
            for (var i = 0; i < host.Drops.Count; i++)
            {
                var d = host.Drops[i];
                if (d is null) throw At($"{path}.drops[{i}]", "null");
                if (Where(d.Site, d.Function, d.Reason) is { } where) throw At($"{path}.drops[{i}].{where.Field}", where.Problem);
                if (d.Count is < 1 or > MaxCount) throw At($"{path}.drops[{i}].count", $"{d.Count} is not a count from 1 to {MaxCount}");
                if (d.NetnsName is not null) Text($"{path}.drops[{i}].netnsName", d.NetnsName, MaxLabel);
                if (!span.Holds(d.StartMs)) throw At($"{path}.drops[{i}].startMs", span.Outside(d.StartMs));
                if (sites.Add((d.Site, d.Reason, d.Protocol, d.Netns)) && sites.Count > MaxSites)
                    throw At($"{path}.drops[{i}]", $"a site (site, reason, protocol, namespace) more than the {MaxSites} distinct ones an import takes");
            }

            if ((counters += host.Counters.Count) > MaxCounters) throw At($"{path}.counters", $"brings the counter deltas to {counters}, more than the {MaxCounters} an import takes");
            for (var i = 0; i < host.Counters.Count; i++)
            {
                var c = host.Counters[i];
                if (c is null) throw At($"{path}.counters[{i}]", "null");
                if (!KernelNames.IsCounter(c.Name))
                    throw At($"{path}.counters[{i}].name", $"'{ImportException.Excerpt(c.Name ?? "")}' is not a counter name ({KernelNames.CounterRule}; at most {MaxCounterName})");
                if (c.Delta is < 0 or > MaxCount) throw At($"{path}.counters[{i}].delta", $"{c.Delta} is not a count from 0 to {MaxCount}");
                if (!span.Holds(c.AtMs)) throw At($"{path}.counters[{i}].atMs", span.Outside(c.AtMs));
            }

            if (host.CounterTexts is { } texts)
            {
                if (texts.Count > MaxCounterTextsPerHost) throw At($"{path}.counterTexts", $"{texts.Count} texts, more than the {MaxCounterTextsPerHost} a session keeps of a host");
                foreach (var (counter, text) in texts)
                {
                    if (!KernelNames.IsCounter(counter))
                        throw At($"{path}.counterTexts", $"'{ImportException.Excerpt(counter)}' is not a counter name ({KernelNames.CounterRule}; at most {MaxCounterName})");
                    Text($"{path}.counterTexts['{ImportException.Excerpt(counter)}']", text, MaxCounterText);
                }
            }

            if (host.Flows is { } flowSites)
            {
                // One more than the bound: the row the drops of sites past it are added up in.
                if (flowSites.Count > MaxFlowSitesPerHost + 1) throw At($"{path}.flows", $"{flowSites.Count} flow sites, more than the {MaxFlowSitesPerHost} a session keeps of a host");
                for (var i = 0; i < flowSites.Count; i++)
                {
                    var f = flowSites[i];
                    if (f?.Top is null) throw At($"{path}.flows[{i}]", "null, or without its top flows");
                    if (Where(f.Site, f.Function, null) is { } where) throw At($"{path}.flows[{i}].{where.Field}", where.Problem);
                    if (f.Sampled is < 0 or > MaxCount || f.NotSampled is < 0 or > MaxCount)
                        throw At($"{path}.flows[{i}]", $"{f.Sampled} sampled and {f.NotSampled} not sampled are not counts from 0 to {MaxCount}");
                    if (f.NetnsName is not null) Text($"{path}.flows[{i}].netnsName", f.NetnsName, MaxLabel);
                    if (f.Top.Count > MaxFlowsPerSite) throw At($"{path}.flows[{i}].top", $"{f.Top.Count} flows, more than the {MaxFlowsPerSite} a session keeps of a site");
                    for (var j = 0; j < f.Top.Count; j++)
                        if (KernelNames.FlowProblem(f.Top[j]) is { } problem) throw At($"{path}.flows[{i}].top[{j}]", problem);
                }
            }

            if (host.Samples.Count > MaxSamplesPerHost) throw At($"{path}.samples", $"{host.Samples.Count} samples, more than the {MaxSamplesPerHost} a session keeps of a host");
            for (var i = 0; i < host.Samples.Count; i++)
            {
                var s = host.Samples[i];
                if (s is null) throw At($"{path}.samples[{i}]", "null");
                if (Where(s.Site, s.Function, s.Reason) is { } where) throw At($"{path}.samples[{i}].{where.Field}", where.Problem);
                if (!span.Holds(s.TimestampNs / 1_000_000)) throw At($"{path}.samples[{i}].timestampNs", span.Outside(s.TimestampNs / 1_000_000));
                if (s.InPort is not null && !KernelNames.IsInPort(s.InPort))
                    throw At($"{path}.samples[{i}].inPort", $"'{ImportException.Excerpt(s.InPort)}' is neither a device name (at most {MaxDeviceName} letters, digits, '_', '.', '@', '-') nor 'ifindex N'");
                if (s.OriginalLength is < 0 or > MaxPacketBytes) throw At($"{path}.samples[{i}].originalLength", $"{s.OriginalLength} is not a packet length from 0 to {MaxPacketBytes}");
                if (s.Header?.Length > MaxSampleHeaderBytes) throw At($"{path}.samples[{i}].header", $"{s.Header.Length} bytes, more than the {MaxSampleHeaderBytes} a sample keeps");
            }
        }

        if (file.Gaps.Count > MaxGaps) throw At("gaps", $"{file.Gaps.Count} gaps, more than the {MaxGaps} an import takes");
        for (var i = 0; i < file.Gaps.Count; i++)
        {
            var g = file.Gaps[i];
            if (g is null) throw At($"gaps[{i}]", "null");
            Text($"gaps[{i}].why", g.Why, MaxLabel);
            if (!span.Holds(g.FromMs)) throw At($"gaps[{i}].fromMs", span.Outside(g.FromMs));
            if (!span.Holds(g.ToMs) || g.ToMs < g.FromMs) throw At($"gaps[{i}].toMs", $"{Time(g.ToMs)} is not from the gap's start {Time(g.FromMs)} to the session's end");
        }
    }

    /// <summary>What is wrong with the site, function or reason of a bucket or sample.</summary>
    private static (string Field, string Problem)? Where(string? site, string? function, string? reason) =>
        KernelNames.SymbolProblem(function, "a kernel symbol") is { } problem ? ("function", problem)
        : !KernelNames.IsSiteOf(site, function!) ? ("site", $"'{ImportException.Excerpt(site ?? "")}' is not '{function}+0xOFFSET', '{function}+0xOFFSET [module]', '{function}' or '{function} (description)'")
        : reason is not null && !KernelNames.IsReason(reason) ? ("reason", $"'{ImportException.Excerpt(reason)}' is not a kernel drop reason ({KernelNames.ReasonRule}; at most {MaxReason})")
        : null;

    private static void Text(string path, string? text, int max, bool lines = false)
    {
        if (ImportText.Problem(text, max, lines) is { } problem) throw At(path, problem);
    }

    private static ImportException At(string path, string problem) => new($"{path}: {problem}");

    // Unix ms as in the file, with the date it is, when it is one.
    private static string Time(long ms) =>
        ms is >= 0 and <= 253_402_300_799_999
            ? $"{ms.ToString(CultureInfo.InvariantCulture)} ({DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture)} UTC)"
            : ms.ToString(CultureInfo.InvariantCulture);

    /// <summary>The session's start and stop, which its data may overrun by <see cref="SpanToleranceMs"/>.</summary>
    private readonly record struct Span(long StartedMs, long StoppedMs)
    {
        public bool Holds(long ms) => ms >= StartedMs - SpanToleranceMs && ms <= StoppedMs + SpanToleranceMs;

        public string Outside(long ms) =>
            $"{Time(ms)} is outside the session, {Time(StartedMs)} to {Time(StoppedMs)} (give or take {SpanToleranceMs / 60_000} min)";
    }
}
