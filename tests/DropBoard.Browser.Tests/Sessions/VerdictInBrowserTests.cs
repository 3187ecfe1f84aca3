using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.TestKit;
using Microsoft.Playwright;
using static DropBoard.Browser.Tests.Infrastructure.TestPages;

namespace DropBoard.Browser.Tests.Sessions;

/// <summary>
/// The founding case imported (dropwatch terminal, netstat texts, kernel 3.10) reads in one sentence at the top of
/// Explain; each site that matters has its verdict line and badge, then what to do, then the evidence. A filtered
/// view's Explain names only the filtered sites.
/// </summary>
public sealed class VerdictInBrowserTests
{
    private const string Sentence =
        "Udp.InErrors +174 is explained exactly by the 174 drops at udp_queue_rcv_skb; " +
        "the 482 drops at net_tx_action are not a loss on kernel 3.10: TX completions reported as drops until 3.14 (commit e6247027e517).";

    [Fact]
    public async Task The_founding_case_reads_in_one_sentence_with_a_verdict_per_site_on_desktop_and_phone()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        var id = await ImportFoundingCaseAsync(app);
        await using var chromium = await Chromium.LaunchAsync();

        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.GotoAsync($"sessions/{id}");
        await WaitForCircuitAsync(page);
        var explain = page.GetByRole(AriaRole.Region, new() { Name = "Explain" });
        await Assertions.Expect(explain.Locator("[data-headline]")).ToHaveTextAsync(Sentence);
        // The headline comes first: before the verdict lines, which come before the evidence.
        var order = await explain.EvaluateAsync<string[]>("e => [...e.querySelectorAll('[data-headline], ul.verdicts, h3.evidence')].map(x => x.tagName)");
        Assert.Equal(["P", "UL", "H3"], order);
        await Assertions.Expect(explain.Locator("li.verdict[data-subject='udp_queue_rcv_skb']")).ToContainTextAsync("174 drops, counted by Udp.InErrors +174 (exact)");
        await Assertions.Expect(explain.Locator("li.verdict[data-subject='net_tx_action'] .verdict-badge")).ToHaveTextAsync("not a loss on kernel 3.10");
        await Assertions.Expect(explain.Locator("li.verdict[data-subject='inet_frag_destroy'] .verdict-badge")).ToHaveTextAsync("consequence");
        // No times in a dropwatch terminal: no "since", no bucket size.
        Assert.Equal(0, await explain.Locator(".since").CountAsync());
        Assert.Equal(0, await explain.Locator("[data-bucket-ms]").CountAsync());
        await Assertions.Expect(explain.Locator("ul.todo li[data-subjects='udp_queue_rcv_skb']")).ToContainTextAsync("SO_RCVBUF");
        // The known pattern badges its rows: the histogram's, and the attribution row that said "no counter" before.
        await Assertions.Expect(page.Locator("button.row[data-function='net_tx_action'] .verdict-badge")).ToHaveTextAsync("not a loss");
        await Assertions.Expect(page.Locator("button.row[data-function='udp_queue_rcv_skb'] .verdict-badge")).ToHaveTextAsync("loss");
        var uncounted = explain.Locator("tr.uncounted[data-site='net_tx_action+0x0']");
        await Assertions.Expect(uncounted.Locator(".verdict-badge")).ToHaveTextAsync("not a loss on kernel 3.10");
        Assert.Equal(0, await uncounted.Locator(".match.none").CountAsync());
        await explain.ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(Chromium.ArtefactDirectory, "explain-founding-case-desktop.png") });

        var phone = await chromium.NewPageAsync(app.BaseAddress, width: 390);
        await phone.GotoAsync($"sessions/{id}");
        await WaitForCircuitAsync(phone);
        var phoneExplain = phone.GetByRole(AriaRole.Region, new() { Name = "Explain" });
        await Assertions.Expect(phoneExplain.Locator("[data-headline]")).ToHaveTextAsync(Sentence);
        var width = await phone.EvaluateAsync<int>("document.scrollingElement.scrollWidth");
        Assert.True(width <= 390, $"the session page is {width} px wide on a 390 px screen");
        await phoneExplain.ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(Chromium.ArtefactDirectory, "explain-founding-case-390px.png") });
    }

    [Fact]
    public async Task A_filtered_view_explains_only_the_filtered_sites()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        var id = await ImportFoundingCaseAsync(app);
        using var created = await app.Http.PostAsJsonAsync("api/investigations",
            new { title = "receive buffer only", sessions = new[] { id }, notes = "", filters = new { site = "udp_queue_rcv_skb" } });
        created.EnsureSuccessStatusCode();
        var slug = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("slug").GetString();

        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.GotoAsync($"i/{slug}");
        await WaitForCircuitAsync(page);
        var explain = page.GetByRole(AriaRole.Region, new() { Name = "Explain" });
        await Assertions.Expect(explain.Locator("[data-headline]")).ToHaveTextAsync("Udp.InErrors +174 is explained exactly by the 174 drops at udp_queue_rcv_skb.");
        Assert.Equal(["udp_queue_rcv_skb"], await explain.Locator("li.verdict").EvaluateAllAsync<string[]>("l => l.map(e => e.dataset.subject)"));
        var text = await explain.InnerTextAsync();
        foreach (var other in new[] { "net_tx_action", "inet_frag_destroy", "ip_rcv_finish", "tcp_v4_rcv", "sk_stream_kill_queues", "icmp_rcv" })
            Assert.DoesNotContain(other, text);
        Assert.Equal(["udp_queue_rcv_skb"], await page.Locator("button.row").EvaluateAllAsync<string[]>("l => l.map(e => e.dataset.function)"));

        // The session page takes the same filter from its URL, typed or linked, for every panel.
        await page.GotoAsync($"sessions/{id}");
        await WaitForCircuitAsync(page);
        await page.GetByRole(AriaRole.Region, new() { Name = "Filters" }).GetByLabel("Site").FillAsync("net_tx");
        await Assertions.Expect(page).ToHaveURLAsync(new System.Text.RegularExpressions.Regex(@"sessions/\d+\?site=net_tx"));
        var sessionExplain = page.GetByRole(AriaRole.Region, new() { Name = "Explain" });
        await Assertions.Expect(sessionExplain.Locator("[data-headline]")).ToHaveTextAsync(
            "The 482 drops at net_tx_action are not a loss on kernel 3.10: TX completions reported as drops until 3.14 (commit e6247027e517).");
        await page.ReloadAsync();
        await WaitForCircuitAsync(page);
        // Counters are not filtered: the rise the shown drops do not explain is said to be outside the filter, not unexplained.
        Assert.Equal(["Udp.InErrors", "net_tx_action"], await sessionExplain.Locator("li.verdict").EvaluateAllAsync<string[]>("l => l.map(e => e.dataset.subject)"));
        await Assertions.Expect(sessionExplain.Locator("li.verdict[data-subject='Udp.InErrors'] .verdict-badge")).ToHaveTextAsync("not in this filter");
        Assert.DoesNotContain("udp_queue_rcv_skb", await sessionExplain.InnerTextAsync());
        await Assertions.Expect(page.GetByRole(AriaRole.Region, new() { Name = "Filters" }).GetByLabel("Site")).ToHaveValueAsync("net_tx");
    }

    [Fact]
    public async Task A_timed_capture_names_its_bucket_size_and_labels_its_burst_lanes_over_a_time_axis()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        // A minute of DropBoard's own file: 12 receive-buffer bursts, each followed 30 ms later by no-port drops.
        const long start = 1_780_000_000_000;
        var drops = new List<(long StartMs, object Json)>();
        for (var burst = 0; burst < 12; burst++)
        {
            var at = start + 2_000 + burst * 4_870L;
            drops.Add(Drop("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", at, 40));
            drops.Add(Drop("__udp4_lib_rcv+0x4bc", "__udp4_lib_rcv", "NO_SOCKET", at + 30, 25));
        }
        var file = new
        {
            format = "dropboard-session", version = 1, name = "bursts", origin = "live", startedMs = start, stoppedMs = start + 60_000, notes = "",
            hosts = new[]
            {
                new { hostId = "h", hostName = "h", kernel = "6.18.0", source = "tracepoint", bucketMs = 10, lostRecords = 0,
                      drops = drops.OrderBy(d => d.StartMs).Select(d => d.Json).ToList(), counters = Array.Empty<object>(), samples = Array.Empty<object>() },
            },
            gaps = Array.Empty<object>(),
        };
        var id = await ImportAsync(app, "dropboard", JsonSerializer.SerializeToUtf8Bytes(file), "bursts");
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress, timeZone: "Europe/Berlin");
        await page.GotoAsync($"sessions/{id}");
        await WaitForCircuitAsync(page);

        var explain = page.GetByRole(AriaRole.Region, new() { Name = "Explain" });
        await Assertions.Expect(explain.Locator("[data-bucket-ms='10']")).ToContainTextAsync("10 ms buckets");
        await Assertions.Expect(explain.Locator("li.verdict[data-subject='udp_queue_rcv_one_skb'] .since")).ToContainTextAsync("since");
        var lanes = explain.Locator(".lanes .lane:not(.axis) .lane-name");
        await Assertions.Expect(lanes).ToHaveTextAsync(["udp_queue_rcv_one_skb 12", "__udp4_lib_rcv 12"]);
        await Assertions.Expect(explain.Locator(".lane.axis .tick")).ToHaveCountAsync(5);
        await Assertions.Expect(explain.Locator(".lane.axis .lane-name")).ToContainTextAsync("Europe/Berlin");
        await explain.ScreenshotAsync(new LocatorScreenshotOptions { Path = Path.Combine(Chromium.ArtefactDirectory, "explain-timed-lanes-desktop.png") });
    }

    private static (long, object) Drop(string site, string function, string reason, long startMs, long count) =>
        (startMs, new { site, function, reason, startMs, count, protocol = 0x0800 });

    private static async Task<long> ImportFoundingCaseAsync(WebAppProcess app)
    {
        using var form = new MultipartFormDataContent
        {
            { new ByteArrayContent(await File.ReadAllBytesAsync(Fixture("seed-rhel7", "dropwatch-session.txt"))), "file", "dropwatch-session.txt" },
            { new ByteArrayContent(await File.ReadAllBytesAsync(Fixture("seed-rhel7", "netstat-su-before.txt"))), "netstatBefore", "before.txt" },
            { new ByteArrayContent(await File.ReadAllBytesAsync(Fixture("seed-rhel7", "netstat-su-after.txt"))), "netstatAfter", "after.txt" },
        };
        using var response = await app.Http.PostAsync("api/import?format=dropwatch&name=TPROXY%20loss&kernel=3.10.0-1160.el7.x86_64", form);
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("sessionId").GetInt64();
    }
}
