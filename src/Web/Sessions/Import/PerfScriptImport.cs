using System.Globalization;
using System.Text.RegularExpressions;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Sites;

namespace DropBoard.Web.Sessions.Import;

/// <summary>
/// <c>perf script</c> output of <c>perf record -e skb:kfree_skb</c> as a session: each line is one drop, with
/// its time (seconds since boot), location (symbolized by perf), protocol and, on newer kernels, reason.
/// Drops are bucketed at 10 ms; times are shifted so the first drop is at the import's start time (a drop perf
/// printed earlier than the first moves the session's start back with it).
/// </summary>
public static partial class PerfScriptImport
{
    [GeneratedRegex(@"\s(?<time>\d+\.\d+):\s+skb:kfree_skb:\s.*?\blocation=(?<location>\S+)(?:.*?\breason:\s*(?<reason>\S+))?")]
    private static partial Regex KfreeSkbLine();

    [GeneratedRegex(@"\bprotocol=(?<protocol>\d+)")]
    private static partial Regex Protocol();

    private const int BucketMs = 10;

    public static SessionFile Parse(string text, string name, long startedMs, string? kernel = null)
    {
        var buckets = new Dictionary<(string Site, string Function, string? Reason, ushort Protocol, long Bucket), long>();
        var sites = new HashSet<(string Site, string? Reason, ushort Protocol)>();
        double? first = null;
        double earliest = double.PositiveInfinity, last = double.NegativeInfinity;
        foreach (var (number, line) in ImportText.Lines(text))
        {
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#')) continue;
            var m = KfreeSkbLine().Match(line);
            if (!m.Success)
                throw ImportException.AtLine(number, $"not a perf script line of skb:kfree_skb: '{ImportException.Excerpt(line.Trim())}'");
            if (!double.TryParse(m.Groups["time"].Value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var time) || !double.IsFinite(time))
                throw ImportException.AtLine(number, $"time '{ImportException.Excerpt(m.Groups["time"].Value)}' is not a number of seconds");
            first ??= time;
            (earliest, last) = (Math.Min(earliest, time), Math.Max(last, time));
            if ((last - earliest) * 1000 > ImportLimits.MaxSpanMs)
                throw ImportException.AtLine(number, $"time {ImportException.Excerpt(m.Groups["time"].Value)} s makes the recording longer than {ImportLimits.MaxSpanMs / 86_400_000} days (two recordings joined?)");
            var location = m.Groups["location"].Value;
            if (!DropSite.TryParse(location, out var site))
                throw ImportException.AtLine(number, $"location '{ImportException.Excerpt(location)}' is not symbolized (run perf script where /proc/kallsyms is readable)");
            if (KernelNames.Problem(site) is { } problem) throw ImportException.AtLine(number, problem);
            var reason = m.Groups["reason"].Success ? m.Groups["reason"].Value : null;
            if (reason is not null && !KernelNames.IsReason(reason))
                throw ImportException.AtLine(number, $"drop reason '{ImportException.Excerpt(reason)}' is not a kernel drop reason ({KernelNames.ReasonRule}, at most {ImportLimits.MaxReason})");
            var protocol = Protocol().Match(line) is { Success: true } p && ushort.TryParse(p.Groups["protocol"].Value, out var proto) ? proto : (ushort)0;
            if (sites.Add((site.ToString(), reason, protocol)) && sites.Count > ImportLimits.MaxSites)
                throw ImportException.AtLine(number, $"more than {ImportLimits.MaxSites} distinct drop sites (site, reason, protocol)");
            var bucket = (long)Math.Floor((time - first.Value) * 1000 / BucketMs);
            var key = (site.ToString(), site.Function, reason, protocol, bucket);
            buckets[key] = buckets.GetValueOrDefault(key) + 1;
        }
        if (first is null) throw new ImportException("no skb:kfree_skb line: this is not perf script output of that tracepoint");
        var drops = buckets.OrderBy(kv => kv.Key.Bucket).ThenBy(kv => kv.Key.Site, StringComparer.Ordinal)
            .Select(kv => new DropBucket(kv.Key.Site, kv.Key.Function, kv.Key.Reason, startedMs + kv.Key.Bucket * BucketMs, kv.Value, kv.Key.Protocol))
            .ToList();
        var stoppedMs = startedMs + (long)Math.Ceiling((last - first.Value) * 1000) + BucketMs;
        var host = new SessionFileHost("perf-script", "perf script import", kernel ?? "", "perf-script", BucketMs, 0, drops, [], []);
        return new SessionFile(SessionFile.FormatName, 1, name, "perf-script", drops[0].StartMs, stoppedMs, "", [host], []);
    }
}
