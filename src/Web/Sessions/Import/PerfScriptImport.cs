using System.Globalization;
using System.Text.RegularExpressions;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Sites;

namespace DropBoard.Web.Sessions.Import;

/// <summary>
/// <c>perf script</c> output of <c>perf record -e skb:kfree_skb</c> as a session: each line is one drop, with
/// its time (seconds since boot), location (symbolized by perf), protocol and, on newer kernels, reason.
/// Drops are bucketed at 10 ms; times are shifted so the first drop is at the import's start time.
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
        double? first = null;
        double last = 0;
        var lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#')) continue;
            var m = KfreeSkbLine().Match(line);
            if (!m.Success)
                throw ImportException.AtLine(lineNumber, $"not a perf script line of skb:kfree_skb: '{ImportException.Excerpt(line.Trim())}'");
            var time = double.Parse(m.Groups["time"].Value, CultureInfo.InvariantCulture);
            first ??= time;
            last = Math.Max(last, time);
            var location = m.Groups["location"].Value;
            if (!DropSite.TryParse(location, out var site))
                throw ImportException.AtLine(lineNumber, $"location '{location}' is not symbolized (run perf script where /proc/kallsyms is readable)");
            var reason = m.Groups["reason"].Success ? m.Groups["reason"].Value : null;
            var protocol = Protocol().Match(line) is { Success: true } p && ushort.TryParse(p.Groups["protocol"].Value, out var proto) ? proto : (ushort)0;
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
        return new SessionFile(SessionFile.FormatName, 1, name, "perf-script", startedMs, stoppedMs, "", [host], []);
    }
}
