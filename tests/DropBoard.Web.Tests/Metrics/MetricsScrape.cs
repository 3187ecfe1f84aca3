using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using DropBoard.TestKit;

namespace DropBoard.Web.Tests.Metrics;

/// <summary>One line of a scrape: a metric name, its labels as they were before escaping, and its value.</summary>
internal sealed record MetricSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value)
{
    public string this[string label] => Labels.GetValueOrDefault(label, "");
}

/// <summary>
/// <c>/metrics</c> read as Prometheus reads it: the text exposition format parsed here on its own (label values
/// unescaped per the format: <c>\\</c>, <c>\"</c>, <c>\n</c>), so a test comparing values has a witness of its own.
/// </summary>
internal sealed class MetricsScrape(string text, IReadOnlyList<MetricSample> samples, IReadOnlyList<string> families)
{
    public string Text { get; } = text;

    public IReadOnlyList<MetricSample> Samples { get; } = samples;

    /// <summary>The metric families the text declares (<c># TYPE name kind</c>).</summary>
    public IReadOnlyList<string> Families { get; } = families;

    public IEnumerable<MetricSample> Of(string name, Func<MetricSample, bool>? where = null) =>
        Samples.Where(s => s.Name == name && (where is null || where(s)));

    public double Sum(string name, Func<MetricSample, bool>? where = null) => Of(name, where).Sum(s => s.Value);

    public static async Task<MetricsScrape> ReadAsync(WebAppProcess app, string? token = null)
    {
        using var response = await GetAsync(app, token);
        response.EnsureSuccessStatusCode();
        return Parse(await response.Content.ReadAsStringAsync());
    }

    /// <summary><c>GET /metrics</c> as Prometheus sends it, with <c>Authorization: Bearer TOKEN</c> when given one.</summary>
    public static Task<HttpResponseMessage> GetAsync(WebAppProcess app, string? token)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "metrics");
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return app.Http.SendAsync(request);
    }

    public static MetricsScrape Parse(string text)
    {
        var samples = new List<MetricSample>();
        var families = new List<string>();
        foreach (var line in text.Split('\n'))
        {
            if (line.StartsWith("# TYPE ", StringComparison.Ordinal)) families.Add(line.Split(' ')[2]);
            if (line.Length == 0 || line[0] == '#') continue;
            samples.Add(ParseSample(line));
        }
        return new MetricsScrape(text, samples, families);
    }

    private static MetricSample ParseSample(string line)
    {
        var i = line.IndexOfAny(['{', ' ']);
        var name = line[..i];
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                var equals = line.IndexOf('=', i);
                var label = line[i..equals];
                if (line[equals + 1] != '"') throw new FormatException($"label {label} is not quoted: {line}");
                var value = new StringBuilder();
                for (i = equals + 2; line[i] != '"'; i++)
                    value.Append(line[i] != '\\' ? line[i] : line[++i] switch
                    {
                        '\\' => '\\',
                        '"' => '"',
                        'n' => '\n',
                        var other => throw new FormatException($"'\\{other}' is no escape of the exposition format: {line}"),
                    });
                labels.Add(label, value.ToString());
                i++;
                if (line[i] == ',') i++;
            }
            i++;
        }
        var number = line[(i + 1)..].Split(' ')[0];
        return new MetricSample(name, labels, double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture));
    }
}
