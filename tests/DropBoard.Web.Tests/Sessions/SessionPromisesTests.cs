using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using DropBoard.Web.Sessions;
using DropBoard.Web.Sessions.Import;
using static DropBoard.Web.Tests.Sessions.SessionApiReads;

namespace DropBoard.Web.Tests.Sessions;

/// <summary>
/// What the README promises about sessions, compared and shared, checked against the real web app with numbers
/// worked out by hand from the texts the sessions are made of, never from the app's own answers.
/// </summary>
public sealed class SessionPromisesTests(SessionPromisesTests.App app) : IClassFixture<SessionPromisesTests.App>
{
    /// <summary>One dashboard for these tests; it takes as many writes as a test needs.</summary>
    public sealed class App : IAsyncLifetime
    {
        public WebAppProcess Process { get; private set; } = null!;

        public async ValueTask InitializeAsync() =>
            Process = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false", "DropBoard:WritesPerMinute=100000");

        public ValueTask DisposeAsync() => Process.DisposeAsync();
    }

    // "After the fix", as dropwatch and netstat -su print it: counts without times (the tests give each import its
    // duration, as the person who ran it would: 3 s before the fix, 4 s after).
    private const string AfterTheFix = """
        dropwatch> start
        3 drops at net_tx_action+0 (0xffffffff814cebe0)
        2 drops at tcp_v4_rcv+77 (0xffffffff8152efd7)
        5 drops at net_tx_action+0 (0xffffffff814cebe0)
        4 drops at nf_hook_slow+45 (0xffffffff814f0045)
        1 drops at net_tx_action+0 (0xffffffff814cebe0)
        1 drops at tcp_v4_rcv+77 (0xffffffff8152efd7)
        2 drops at tcp_v4_rcv+77 (0xffffffff8152efd7)
        """;

    private const string AfterTheFixNetstatBefore = """
        Udp:
            1000 packets received
            10 packets to unknown port received.
            500 packet receive errors
            900 packets sent
            40 receive buffer errors
        """;

    private const string AfterTheFixNetstatAfter = """
        Udp:
            1100 packets received
            10 packets to unknown port received.
            520 packet receive errors
            1000 packets sent
            52 receive buffer errors
        """;

    [Fact]
    public async Task Compare_gives_each_sites_and_counters_counts_per_second_rates_difference_and_ratio_as_worked_out_by_hand()
    {
        var a = await ImportedAsync(Dropwatch(Fixture("seed-rhel7", "dropwatch-session.txt"),
            Fixture("seed-rhel7", "netstat-su-before.txt"), Fixture("seed-rhel7", "netstat-su-after.txt")), "before the fix", seconds: 3);
        var b = await ImportedAsync(DropwatchForm(AfterTheFix, AfterTheFixNetstatBefore, AfterTheFixNetstatAfter), "after the fix", seconds: 4);

        var compared = await app.Process.Http.GetFromJsonAsync<JsonElement>($"api/compare?a={a}&b={b}");

        // seed-rhel7: 2+1+1+1+1 + 474+3+1+1+25+174+1 + 6 = 691 drops in the 3 s given.
        AssertSide(compared.GetProperty("a"), a, 3, 691);
        // After the fix: 3+2+5+4+1+1+2 = 18 drops in 4 seconds.
        AssertSide(compared.GetProperty("b"), b, 4, 18);

        var sites = compared.GetProperty("functions").EnumerateArray().ToDictionary(s => s.GetProperty("function").GetString()!);
        // net_tx_action: 2 + 474 + 6 = 482 in 3 s before, 3 + 5 + 1 = 9 in 4 s after.
        AssertRow(sites["net_tx_action"], 482, 9, 482.0 / 3, 9.0 / 4, ratio: 9.0 / 4 / (482.0 / 3));
        // tcp_v4_rcv: 1 + 1 = 2 before, 2 + 1 + 2 = 5 after: 5/4 over 2/3 is 15/8.
        AssertRow(sites["tcp_v4_rcv"], 2, 5, 2.0 / 3, 5.0 / 4, ratio: 15.0 / 8);
        // The buffer overflow that made the case: 174 before, gone after; a netfilter drop new after.
        AssertRow(sites["udp_queue_rcv_skb"], 174, 0, 58, 0, ratio: 0, onlyInA: true);
        AssertRow(sites["nf_hook_slow"], 0, 4, 0, 1, ratio: null, onlyInB: true);
        AssertRow(sites["ip_rcv_finish"], 1 + 3, 0, 4.0 / 3, 0, ratio: 0, onlyInA: true);
        AssertRow(sites["inet_frag_destroy"], 25, 0, 25.0 / 3, 0, ratio: 0, onlyInA: true);
        foreach (var once in new[] { "tcp_rcv_state_process", "sk_stream_kill_queues", "__udp4_lib_mcast_deliver", "icmp_rcv" })
            AssertRow(sites[once], 1, 0, 1.0 / 3, 0, ratio: 0, onlyInA: true);
        Assert.Equal(10, sites.Count);
        Assert.Equal("net_tx_action", compared.GetProperty("functions")[0].GetProperty("function").GetString()); // the biggest change leads
        // Offsets nest under their function: the same site in both sessions is one row.
        var tx = sites["net_tx_action"].GetProperty("offsets").EnumerateArray().Single();
        Assert.Equal(("net_tx_action+0x0", "net_tx_action+0x0", 482L, 9L),
            (tx.GetProperty("siteA").GetString(), tx.GetProperty("siteB").GetString(), tx.GetProperty("countA").GetInt64(), tx.GetProperty("countB").GetInt64()));

        var counters = compared.GetProperty("counters").EnumerateArray().ToDictionary(c => c.GetProperty("name").GetString()!);
        // seed-rhel7 netstat: 120177272 - 120177184 = 88 received, 132324587 - 132324413 = 174 errors, 113599585 - 113599497 = 88 sent.
        // After the fix: 1100 - 1000 = 100, 520 - 500 = 20, 1000 - 900 = 100, 52 - 40 = 12 buffer errors; unknown port unchanged in both.
        AssertCounter(counters["Udp.InDatagrams"], 88, 100, ratio: 100.0 / 4 / (88.0 / 3));
        AssertCounter(counters["Udp.InErrors"], 174, 20, ratio: 5.0 / 58);
        AssertCounter(counters["Udp.OutDatagrams"], 88, 100, ratio: 100.0 / 4 / (88.0 / 3));
        AssertCounter(counters["Udp.RcvbufErrors"], 0, 12, ratio: null, onlyInB: true);
        Assert.Equal(4, counters.Count);
    }

    [Fact]
    public async Task Investigation_slugs_are_128_random_bits_in_22_base64url_characters()
    {
        var session = await ImportedAsync(DropwatchForm(AfterTheFix), "slugs");
        const int count = 1000;
        var slugs = new string[count];
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, _) =>
        {
            using var created = await app.Process.Http.PostAsJsonAsync("api/investigations", new { title = $"slug {i}", sessions = new[] { session }, notes = "" });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            slugs[i] = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("slug").GetString()!;
        });

        Assert.All(slugs, s => Assert.Matches("^[A-Za-z0-9_-]{22}$", s));
        Assert.Equal(count, slugs.Distinct(StringComparer.Ordinal).Count());
        var bits = slugs.Select(s => Convert.FromBase64String(s.Replace('-', '+').Replace('_', '/') + "==")).ToList();
        Assert.All(bits, b => Assert.Equal(16, b.Length));
        // 22 characters carry 132 bits, of which 128 are the slug's: the last character holds 2, so it takes 4 values at most.
        Assert.All(Enumerable.Range(0, 21), p => Assert.True(slugs.Select(s => s[p]).Distinct().Count() > 32, $"character {p} hardly varies"));
        Assert.Equal(4, slugs.Select(s => s[21]).Distinct().Count());
        // Each of the 128 bits is set in about half the slugs: a fixed, counted or time-made bit is set in all, none, or
        // far from half. For 1000 fair coins the count is 500 ± 15.8 (one standard deviation); six of them either side
        // leave a chance of about 1 in 10^9 per bit that a fair bit fails.
        for (var bit = 0; bit < 128; bit++)
        {
            var set = bits.Count(b => (b[bit / 8] >> (7 - bit % 8) & 1) == 1);
            Assert.True(set is > 405 and < 595, $"bit {bit} is set in {set} of {count} slugs");
        }
    }

    [Fact]
    public async Task An_investigation_opens_for_a_teammate_with_its_filters_window_and_pins_shown_and_applied()
    {
        const long start = 1_700_000_000_000;
        var file = new SessionFile(SessionFile.FormatName, 1, "two edges", "live", start, start + 60_000, "",
        [
            new SessionFileHost("edge-1", "edge-1", "6.18", "tracepoint", 10, 0,
            [
                new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", start + 10_000, 100),
                new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "PROTO_MEM", start + 11_000, 9),
                new DropBucket("tcp_data_queue+0x6b", "tcp_data_queue", "SOCKET_RCVBUFF", start + 16_000, 3),
                new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", start + 40_000, 30),
            ], [], []),
            new SessionFileHost("edge-2", "edge-2", "6.18", "tracepoint", 10, 0,
                [new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", start + 10_000, 50)], [], []),
        ], []);
        var (status, imported) = await ImportAsync(app.Process, "dropboard", new ByteArrayContent(SessionFileJson.Write(file)));
        Assert.Equal(HttpStatusCode.Created, status);
        var session = imported.GetProperty("sessionId").GetInt64();
        var window = new { fromMs = start + 5_000, toMs = start + 20_000 };

        using var created = await app.Process.Http.PostAsJsonAsync("api/investigations", new
        {
            title = "edge-1 receive buffers", sessions = new[] { session }, notes = "",
            filters = new { site = "udp_queue", reason = "SOCKET_RCVBUFF", host = "edge-1" }, window,
            pinned = new[] { "udp_queue_rcv_one_skb+0x437", "tcp_data_queue+0x6b" },
        });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var slug = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("slug").GetString()!;

        var page = await app.Process.Http.GetStringAsync($"i/{slug}");

        Assert.Equal(["reason: SOCKET_RCVBUFF", "site: udp_queue", "host: edge-1", $"{Minute(window.fromMs)} – {Minute(window.toMs)}"], Texts(page, "span", "badge filter"));
        Assert.Equal(["udp_queue_rcv_one_skb+0x437", "tcp_data_queue+0x6b"], Texts(page, "code", "pin"));
        // edge-1, udp_queue, SOCKET_RCVBUFF, inside the window: only the 100. Without the host it would be 150, without
        // the window 130, without the reason 109, without the site 103.
        Assert.Equal(["Drops by site 100"], Texts(page, "h2", null).Where(h => h.StartsWith("Drops by site", StringComparison.Ordinal)));
    }

    public static TheoryData<string, string, string> BadNetstat => new()
    {
        { "garbage", "I forgot to run netstat\n", "netstat after, line 1: not a netstat -su line: 'I forgot to run netstat'" },
        { "cut in a number", "Udp:\n    120177272 packets received\n    2008 packets to unknown port received.\n    13232", "netstat after, line 4: not a netstat -su line: '13232'" },
        { "netstat -st", "IcmpMsg:\n    InType3: 45\nTcp:\n    1200 active connection openings\n    4 failed connection attempts\nTcpExt:\n    12 packets pruned from receive queue because of socket buffer overrun\nIpExt:\n    InOctets: 123456\n",
            "netstat after: no Udp counter found" },
        { "empty", "", "netstat after: no Udp counter found" },
        // Cut mid-line: the last counter's words are gone, so its line is missing, not misread.
        { "cut in a line", "    120177272 packets received\n    2008 packets to unknown port received.\n    132324587 packet ", "netstat after has no " },
    };

    [Theory]
    [MemberData(nameof(BadNetstat))]
    public async Task A_bad_netstat_attachment_is_refused_with_400_naming_what_is_wrong_and_nothing_is_stored(string _, string after, string error)
    {
        var before = await app.Process.Http.GetStringAsync("api/sessions");
        var form = Dropwatch(Fixture("seed-rhel7", "dropwatch-session.txt"), Fixture("seed-rhel7", "netstat-su-before.txt"));
        form.Add(new StringContent(after), "netstatAfter", "after.txt");

        var (status, body) = await ImportAsync(app.Process, "dropwatch", form);

        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.StartsWith($"dropwatch import: {error}", body.GetProperty("error").GetString());
        Assert.Equal(before, await app.Process.Http.GetStringAsync("api/sessions"));
    }

    private async Task<long> ImportedAsync(MultipartFormDataContent form, string name, double? seconds = null)
    {
        var (status, body) = await ImportAsync(app.Process, "dropwatch", form, $"&name={Uri.EscapeDataString(name)}{(seconds is null ? "" : $"&duration={seconds}")}");
        Assert.Equal(HttpStatusCode.Created, status);
        return body.GetProperty("sessionId").GetInt64();
    }

    private static MultipartFormDataContent DropwatchForm(string dropwatch, string? before = null, string? after = null)
    {
        var form = new MultipartFormDataContent { { new StringContent(dropwatch, Encoding.UTF8), "file", "dropwatch.txt" } };
        if (before is not null) form.Add(new StringContent(before, Encoding.UTF8), "netstatBefore", "before.txt");
        if (after is not null) form.Add(new StringContent(after, Encoding.UTF8), "netstatAfter", "after.txt");
        return form;
    }

    private static void AssertSide(JsonElement side, long id, double seconds, long drops) =>
        Assert.Equal((id, seconds, drops), (side.GetProperty("id").GetInt64(), side.GetProperty("seconds").GetDouble(), side.GetProperty("drops").GetInt64()));

    private static void AssertRow(JsonElement row, long countA, long countB, double rateA, double rateB, double? ratio, bool onlyInA = false, bool onlyInB = false)
    {
        Assert.Equal((countA, countB), (row.GetProperty("countA").GetInt64(), row.GetProperty("countB").GetInt64()));
        AssertRates(row, rateA, rateB, ratio, onlyInA, onlyInB);
        Assert.Equal(rateB - rateA, row.GetProperty("rateDifference").GetDouble(), 9);
    }

    private static void AssertCounter(JsonElement row, long deltaA, long deltaB, double? ratio, bool onlyInB = false)
    {
        Assert.Equal((deltaA, deltaB), (row.GetProperty("deltaA").GetInt64(), row.GetProperty("deltaB").GetInt64()));
        // Per second of each session: the seed ran 3 s, the fix 4 s.
        AssertRates(row, deltaA / 3.0, deltaB / 4.0, ratio, onlyInA: false, onlyInB);
    }

    private static void AssertRates(JsonElement row, double rateA, double rateB, double? ratio, bool onlyInA, bool onlyInB)
    {
        Assert.Equal(rateA, row.GetProperty("rateA").GetDouble(), 9);
        Assert.Equal(rateB, row.GetProperty("rateB").GetDouble(), 9);
        if (ratio is { } r) Assert.Equal(r, row.GetProperty("rateRatio").GetDouble(), 9);
        else Assert.Equal(JsonValueKind.Null, row.GetProperty("rateRatio").ValueKind);
        Assert.Equal((onlyInA, onlyInB), (row.GetProperty("onlyInA").GetBoolean(), row.GetProperty("onlyInB").GetBoolean()));
    }

    /// <summary>The text of each <paramref name="element"/> of that class (any class when null), in page order, as a browser shows it.</summary>
    private static List<string> Texts(string html, string element, string? cssClass) =>
        Regex.Matches(html, $@"<{element}(?<attributes>[^>]*)>(?<inner>.*?)</{element}>", RegexOptions.Singleline)
            .Where(m => cssClass is null || m.Groups["attributes"].Value.Contains($"class=\"{cssClass}\"", StringComparison.Ordinal))
            .Select(m => WebUtility.HtmlDecode(Regex.Replace(m.Groups["inner"].Value, "<[^>]*>", "")).Trim())
            .ToList();

    // As the page prints a time before a browser has told its zone (no browser here): UTC, named beside it, to the minute.
    private static string Minute(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).ToString("yyyy-MM-dd HH:mm", System.Globalization.CultureInfo.InvariantCulture);
}
