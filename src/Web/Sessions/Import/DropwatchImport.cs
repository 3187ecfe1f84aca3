using System.Globalization;
using System.Text.RegularExpressions;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Sites;

namespace DropBoard.Web.Sessions.Import;

/// <summary>
/// A <c>dropwatch -l kas</c> terminal session as a DropBoard session. dropwatch prints one alert at a time,
/// each naming a site once; a site that repeats starts the next alert. Alerts become one-second buckets in
/// order (dropwatch prints no times), and <c>netstat -su</c> before/after texts become counter deltas.
/// </summary>
public static partial class DropwatchImport
{
    [GeneratedRegex(@"^(?<count>\d+) drops at (?<site>\S+)(?: \((?<pc>0x[0-9a-fA-F]+)\))?\s*$")]
    private static partial Regex DropLine();

    // What dropwatch itself prints around the alerts; anything else is not a dropwatch session.
    [GeneratedRegex(@"^(#.*|dropwatch>.*|Initi?ali[sz]ing .*|Enabling monitoring.*|Kernel monitoring activated\.|Issue Ctrl-C to stop monitoring|\^C.*|Got a stop message|Shutting down \.\.\.|Disabling monitoring.*|Kernel monitoring deactivated\.|\s*)$")]
    private static partial Regex Chatter();

    public static SessionFile Parse(string text, string name, long startedMs, string? netstatBefore = null, string? netstatAfter = null, string? kernel = null)
    {
        var drops = new List<DropBucket>();
        var sites = new HashSet<string>(StringComparer.Ordinal);
        var inAlert = new HashSet<string>(StringComparer.Ordinal);
        var alert = 0;
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
            if (sites.Add(siteText) && sites.Count > ImportLimits.MaxSites)
                throw ImportException.AtLine(number, $"more than {ImportLimits.MaxSites} distinct drop sites");
            if (!inAlert.Add(siteText))
            {
                alert++;
                inAlert = [siteText];
            }
            drops.Add(new DropBucket(siteText, site.Function, null, startedMs + alert * 1000L, count));
        }
        if (drops.Count == 0)
            throw new ImportException("no 'N drops at site' line: this is not dropwatch output");

        var stoppedMs = startedMs + (alert + 1) * 1000L;
        if ((netstatBefore is null) != (netstatAfter is null))
            throw new ImportException($"only the netstat {(netstatBefore is null ? "after" : "before")} text was given: counter rises need both, before and after");
        var counters = netstatBefore is null || netstatAfter is null
            ? []
            : NetstatSummary.Deltas(NetstatSummary.Parse(netstatBefore, "netstat before"), NetstatSummary.Parse(netstatAfter, "netstat after"), stoppedMs);
        var host = new SessionFileHost("dropwatch", "dropwatch import", kernel ?? "", "dropwatch", 1000, 0, drops, counters, []);
        return new SessionFile(SessionFile.FormatName, 1, name, "dropwatch", startedMs, stoppedMs, "", [host], []);
    }
}
