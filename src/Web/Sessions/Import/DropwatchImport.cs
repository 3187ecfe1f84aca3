using System.Globalization;
using System.Text.RegularExpressions;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Sites;

namespace DropBoard.Web.Sessions.Import;

/// <summary>
/// A <c>dropwatch -l kas</c> terminal session as a DropBoard session. dropwatch prints no times, so none are
/// made up: the session starts at the import, every site's drops add up to one count at that instant, and the
/// session lasts only as long as the importer says it did (zero when not said: no rates). <c>netstat -su</c>
/// before/after texts become counter deltas.
/// </summary>
public static partial class DropwatchImport
{
    [GeneratedRegex(@"^(?<count>\d+) drops at (?<site>\S+)(?: \((?<pc>0x[0-9a-fA-F]+)\))?\s*$")]
    private static partial Regex DropLine();

    // What dropwatch itself prints around the alerts; anything else is not a dropwatch session.
    [GeneratedRegex(@"^(#.*|dropwatch>.*|Initi?ali[sz]ing .*|Enabling monitoring.*|Kernel monitoring activated\.|Issue Ctrl-C to stop monitoring|\^C.*|Got a stop message|Shutting down \.\.\.|Disabling monitoring.*|Kernel monitoring deactivated\.|\s*)$")]
    private static partial Regex Chatter();

    /// <param name="durationMs">How long the capture ran, when the importer knows it (dropwatch does not say).</param>
    public static SessionFile Parse(string text, string name, long startedMs, string? netstatBefore = null, string? netstatAfter = null, string? kernel = null,
        long? durationMs = null)
    {
        var drops = new Dictionary<string, DropBucket>(StringComparer.Ordinal);
        foreach (var (number, line) in ImportText.Lines(text))
        {
            var m = DropLine().Match(line);
            if (!m.Success)
            {
                if (Chatter().IsMatch(line)) continue;
                throw ImportException.AtLine(number, $"not a dropwatch line: '{ImportException.Excerpt(line)}' (expected 'N drops at function+offset (0xaddress)')");
            }
            // dropwatch prints offsets in hex without 0x ("udp_queue_rcv_skb+218" is 0x218): DropSite reads both.
            if (!DropSite.TryParse(m.Groups["site"].Value, out var site))
                throw ImportException.AtLine(number, $"'{ImportException.Excerpt(m.Groups["site"].Value)}' is not a drop site (function+offset)");
            if (KernelNames.Problem(site) is { } problem) throw ImportException.AtLine(number, problem);
            if (!long.TryParse(m.Groups["count"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var count) || count is <= 0 or > ImportLimits.MaxCount)
                throw ImportException.AtLine(number, $"drop count '{ImportException.Excerpt(m.Groups["count"].Value)}' is not a number from 1 to {ImportLimits.MaxCount}");
            var siteText = site.ToString();
            if (drops.TryGetValue(siteText, out var seen))
            {
                if (seen.Count + count > ImportLimits.MaxCount)
                    throw ImportException.AtLine(number, $"more than {ImportLimits.MaxCount} drops at {siteText} in all");
                drops[siteText] = seen with { Count = seen.Count + count };
            }
            else if (drops.Count == ImportLimits.MaxSites)
                throw ImportException.AtLine(number, $"more than {ImportLimits.MaxSites} distinct drop sites");
            else
                drops[siteText] = new DropBucket(siteText, site.Function, null, startedMs, count);
        }
        if (drops.Count == 0)
            throw new ImportException("no 'N drops at site' line: this is not dropwatch output");

        var stoppedMs = startedMs + (durationMs ?? 0);
        if ((netstatBefore is null) != (netstatAfter is null))
            throw new ImportException($"only the netstat {(netstatBefore is null ? "after" : "before")} text was given: counter rises need both, before and after");
        var counters = netstatBefore is null || netstatAfter is null
            ? []
            : NetstatSummary.Deltas(NetstatSummary.Parse(netstatBefore, "netstat before"), NetstatSummary.Parse(netstatAfter, "netstat after"), stoppedMs);
        var host = new SessionFileHost("dropwatch", "dropwatch import", kernel ?? "", SessionSources.Dropwatch, 1000, 0, drops.Values.ToList(), counters, []);
        return new SessionFile(SessionFile.FormatName, 1, name, "dropwatch", startedMs, stoppedMs, "", [host], []);
    }
}
