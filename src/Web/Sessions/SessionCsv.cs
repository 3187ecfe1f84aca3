using System.Globalization;
using System.Text;

namespace DropBoard.Web.Sessions;

/// <summary>A session as CSV for spreadsheets: one row per stored bucket and per counter delta.</summary>
public static class SessionCsv
{
    public static string Write(SessionFile file)
    {
        var csv = new StringBuilder("kind,host,time_ms,function,site,reason,protocol,count_or_delta,counter\n");
        foreach (var h in file.Hosts)
        {
            foreach (var d in h.Drops)
                csv.Append(CultureInfo.InvariantCulture, $"drop,{Field(h.HostName)},{d.StartMs},{Field(d.Function)},{Field(d.Site)},{Field(d.Reason)},{d.Protocol},{d.Count},\n");
            foreach (var c in h.Counters)
                csv.Append(CultureInfo.InvariantCulture, $"counter,{Field(h.HostName)},{c.AtMs},,,,,{c.Delta},{Field(c.Name)}\n");
        }
        return csv.ToString();
    }

    // RFC 4180: quote fields holding a comma, quote or line break; double the quotes inside.
    private static string Field(string? value) =>
        value is null ? "" : value.AsSpan().IndexOfAny(",\"\n\r") < 0 ? value : $"\"{value.Replace("\"", "\"\"")}\"";
}
