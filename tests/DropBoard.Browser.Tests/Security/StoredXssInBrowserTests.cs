using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using DropBoard.Web.Access;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Playwright;

namespace DropBoard.Browser.Tests.Security;

/// <summary>
/// Stored cross-site scripting, end to end: markup put into everything a user or an agent may name (session names,
/// investigation titles and notes, host name, kernel release and capture source from the agent hub) is opened on
/// every page that shows it, in Chromium, charts hovered so their tooltips render. It must show as text, run
/// nowhere, and the Content-Security-Policy must hold without a single violation (an injected handler the escaping
/// missed would be one). Names that must be kernel names (functions, counters, ports) are refused at the hub.
/// </summary>
public sealed class StoredXssInBrowserTests
{
    private const string Token = "xss-test-token";
    private const string Markup = "<img src=x onerror=\"window.__pwned=1\"><svg onload=\"window.__pwned=1\">\"><script>window.__pwned=1</script>";

    // Runs in every document before its own scripts: CSP violations are kept for the test to read.
    private const string ViolationProbe = """
        window.__violations = [];
        document.addEventListener('securitypolicyviolation',
            e => window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI} (${e.sample}) at ${e.sourceFile}:${e.lineNumber}`));
        """;

    private static readonly LocatorAssertionsToHaveTextOptions Patient = new() { Timeout = 30_000 };

    [Fact]
    public async Task Markup_in_names_from_users_and_agents_shows_as_text_and_runs_nowhere()
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await using var agent = await TestAgent.ConnectAsync(app, Token);
        var hello = new AgentHello("xss-host", "host " + Markup, "6.18.0 " + Markup, "tracepoint " + Markup, "test", 10, "run-1");

        // Kernel names from an agent are kernel names, or the batch is refused and says which one is not.
        Assert.StartsWith("drops[0].function", await RefusedAsync(agent, hello, Batch(hello, 1) with { Drops = [Bucket(Markup + "+0x1", Markup)] }));
        Assert.StartsWith("drops[0].site", await RefusedAsync(agent, hello, Batch(hello, 1) with { Drops = [Bucket("f+0x1/0x" + Markup, "f")] }));
        Assert.StartsWith("counters[0].name", await RefusedAsync(agent, hello, Batch(hello, 1) with { Counters = [new CounterDelta("Dev." + Markup + ".rx_dropped", 1, Now)] }));
        Assert.StartsWith("samples[0].inPort", await RefusedAsync(agent, hello, Batch(hello, 1) with
        {
            Samples = [new DropSample(Now * 1_000_000, "udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 0x0800, Markup, 60, null)],
        }));

        // People's names for things take any text: it is recorded as given. So does a host's id, which is in links.
        var oddId = new AgentHello("id " + Markup, "odd-id-host", "6.18.0", "tracepoint", "test", 10, "run-1");
        await TestAgent.AcceptedAsync(agent, oddId, Batch(oddId, 1));
        var first = await CreateSessionAsync(app, "first " + Markup);
        await TestAgent.AcceptedAsync(agent, hello, Batch(hello, 1));
        await StopSessionAsync(app, first);
        var second = await CreateSessionAsync(app, "second " + Markup);
        await TestAgent.AcceptedAsync(agent, hello, Batch(hello, 2));
        await StopSessionAsync(app, second);
        // Raw HTML, code, and markdown's own ways to a handler: a javascript: link with a generic attribute.
        var notes = $"Seen {Markup} twice.\n\n{Markup}\n\n`{Markup}`\n\n[the report](javascript:window.__pwned=1){{onmouseover=\"window.__pwned=1\"}}";
        var slug = await CreateInvestigationAsync(app, "title " + Markup, notes, first, second);

        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.AddInitScriptAsync(ViolationProbe);
        var sockets = new List<string>();
        page.WebSocket += (_, socket) => sockets.Add(socket.Url);

        await OpenAsync(page, "");
        var card = page.Locator(".host-card[data-host='xss-host']");
        await Assertions.Expect(card.Locator(".name")).ToHaveTextAsync("host " + Markup, Patient);
        await Assertions.Expect(card.Locator(".badges")).ToContainTextAsync("6.18.0 " + Markup);
        await Assertions.Expect(card.Locator(".badges")).ToContainTextAsync("tracepoint " + Markup);
        var oddCard = page.Locator(".host-card", new() { HasText = "odd-id-host" });
        await Assertions.Expect(oddCard).ToHaveAttributeAsync("data-host", oddId.HostId);
        await AssertInertAsync(page, "hosts");

        await oddCard.ClickAsync();
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("odd-id-host", Patient);
        await Assertions.Expect(page.Locator("p.badges")).ToContainTextAsync("connected");
        await AssertInertAsync(page, "host with an odd id");

        await OpenAsync(page, "hosts/xss-host");
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("host " + Markup, Patient);
        await Assertions.Expect(page.Locator("p.badges")).ToContainTextAsync("kernel 6.18.0 " + Markup);
        await Assertions.Expect(page.Locator("p.badges")).ToContainTextAsync("source: tracepoint " + Markup);
        await HoverChartsAsync(page, 2);
        await AssertInertAsync(page, "host");

        await OpenAsync(page, "sessions");
        var row = page.Locator($"tr[data-session='{first}']");
        await Assertions.Expect(row.Locator("a")).ToHaveTextAsync("first " + Markup, Patient);
        await Assertions.Expect(row).ToContainTextAsync("host " + Markup);
        await AssertInertAsync(page, "sessions");

        await OpenAsync(page, $"sessions/{first}");
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("first " + Markup, Patient);
        await Assertions.Expect(page.Locator("table").Filter(new() { HasText = "host " + Markup })).ToContainTextAsync("6.18.0 " + Markup);
        await HoverChartsAsync(page, 1);
        await AssertInertAsync(page, "session");

        await OpenAsync(page, $"compare?a={first}&b={second}");
        await Assertions.Expect(page.Locator($"a[href='sessions/{first}']")).ToHaveTextAsync("first " + Markup, Patient);
        await Assertions.Expect(page.Locator($"a[href='sessions/{second}']")).ToHaveTextAsync("second " + Markup);
        await AssertInertAsync(page, "compare");

        await OpenAsync(page, $"i/{slug}");
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("title " + Markup, Patient);
        var shown = page.Locator(".markdown");
        await Assertions.Expect(shown).ToContainTextAsync($"Seen {Markup} twice.");
        await Assertions.Expect(shown.Locator("code")).ToHaveTextAsync(Markup);
        await Assertions.Expect(shown.Locator("img, svg, script, [onmouseover], a[href^='javascript']")).ToHaveCountAsync(0);
        await shown.GetByText("the report").HoverAsync();
        await Assertions.Expect(page.Locator("h2.session-title a").First).ToHaveTextAsync("first " + Markup);
        await HoverChartsAsync(page, 2);
        await AssertInertAsync(page, "investigation");
        var screenshot = await Chromium.ScreenshotAsync(page, "stored-xss-investigation");

        // The circuit ran over a WebSocket, which connect-src 'self' has to allow for it not to fall back to polling.
        Assert.Contains(sockets, url => url.Contains("/_blazor", StringComparison.Ordinal));
        TestContext.Current.SendDiagnosticMessage($"six pages opened with markup in every name, no script ran, no CSP violation; screenshot {screenshot}");
    }

    [Fact]
    public async Task Chart_legends_tooltips_and_axis_titles_show_markup_names_as_text()
    {
        // Names recorded before the hub bounded them, or from a future channel, still reach the chart: its escaping
        // is checked on its own, with names only markup.
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.AddInitScriptAsync(ViolationProbe);
        await OpenAsync(page, "sessions");

        string[] names = ["<img src=x onerror=\"window.__pwned=1\">", "<svg onload=\"window.__pwned=1\">", "\"><script>window.__pwned=1</script>", "a<b>&amp;"];
        await page.EvaluateAsync("""
            async names => {
                const chart = await import(new URL('Components/Charts/TimeSeriesChart.razor.js', document.baseURI).href);
                const plot = document.createElement('div');
                plot.className = 'xss-plot';
                document.body.append(plot);
                const now = Date.now();
                const series = names.map((name, i) => ({ name, data: [0, 1, 2, 3].map(s => [now - (3 - s) * 1000, i + s + 1]) }));
                await chart.render(plot, { kind: 'line', stacked: false, yTitle: names[3], height: 240, zoom: false, empty: names[3] }, series,
                    { min: null, max: null, utc: true, title: names[3] });
            }
            """, names);
        var plot = page.Locator(".xss-plot");
        await Assertions.Expect(plot.Locator(".apexcharts-legend-text")).ToHaveTextAsync(names, Patient);
        await Assertions.Expect(plot.Locator(".apexcharts-yaxis-title-text")).ToHaveTextAsync(names[3]);
        await Assertions.Expect(plot.Locator(".apexcharts-xaxis-title-text")).ToHaveTextAsync(names[3]);
        await HoverAsync(plot);
        await Assertions.Expect(plot.Locator(".apexcharts-tooltip-text-y-label")).ToHaveTextAsync(names.Reverse().Select(n => n + ": ").ToArray()); // biggest first: series i is i + 1 above zero
        await Assertions.Expect(plot.Locator(".apexcharts-legend-text *, .apexcharts-tooltip-text-y-label *")).ToHaveCountAsync(0);
        await AssertInertAsync(page, "chart");
        await Chromium.ScreenshotAsync(page, "stored-xss-chart");

        // Were a name to reach the page as markup after all, the policy refuses its handler, and the probe the
        // tests rely on hears of it.
        await page.EvaluateAsync("markup => document.querySelector('h1').insertAdjacentHTML('afterend', markup)", names[0]);
        await page.WaitForFunctionAsync("window.__violations.some(v => v.startsWith('script-src'))", null, new() { Timeout = 30_000 });
        Assert.Equal("undefined", await page.EvaluateAsync<string>("typeof window.__pwned"));
    }

    [Fact]
    public async Task A_rules_text_with_markup_shows_as_text_under_its_counter_live_in_explain_and_in_a_session()
    {
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        await using var agent = await TestAgent.ConnectAsync(app, Token);
        var hello = new AgentHello("rule-host", "rule-host", "6.18.0", "tracepoint", "test", 10, "run-1");
        const string rule = "Netfilter.inet.dbt.input.4";
        var text = "meta l4proto 17 th dport 7421 counter drop comment \"" + Markup + "\"";
        var session = await CreateSessionAsync(app, "rule texts");
        // Two counter samples inside the session, the rule's drops between them: the span Explain compares.
        var t0 = Now / 10 * 10 + 10;
        await TestAgent.AcceptedAsync(agent, hello, new AgentBatch(hello.HostId, 1, t0, [], [new CounterDelta("Udp.InDatagrams", 1, t0)], [], 0, 0,
            CounterTexts: new Dictionary<string, string> { [rule] = text }));
        await TestAgent.AcceptedAsync(agent, hello, new AgentBatch(hello.HostId, 2, t0 + 1200,
            [new DropBucket("nf_hook_slow+0x45", "nf_hook_slow", "NETFILTER_DROP", t0 + 500, 7)], [new CounterDelta(rule, 7, t0 + 1000)], [], 0, 0));

        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await page.AddInitScriptAsync(ViolationProbe);
        foreach (var (path, where) in new[] { ("hosts/rule-host", "host"), ($"sessions/{session}", "session") })
        {
            // A recording session's Explain ends at a sample at least a second old: the second sample must be that old.
            if (where == "session" && t0 + 2500 - Now is > 0 and var wait) await Task.Delay(TimeSpan.FromMilliseconds(wait));
            await OpenAsync(page, path);
            await Assertions.Expect(page.Locator($"section.counters tr[data-counter='{rule}'] .counter-text")).ToHaveTextAsync(text, Patient);
            await Assertions.Expect(page.Locator($".explain tr[data-counter='{rule}'] .counter-text")).ToHaveTextAsync(text, Patient);
            await Assertions.Expect(page.Locator(".counter-text img, .counter-text svg, .counter-text script")).ToHaveCountAsync(0);
            await AssertInertAsync(page, where);
        }
        await Chromium.ScreenshotAsync(page, "rule-text-session");
    }

    private static long Now => DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();

    private static DropBucket Bucket(string site, string function) => new(site, function, "SOCKET_RCVBUFF", Now / 10 * 10, 5);

    private static AgentBatch Batch(AgentHello hello, long sequence) =>
        new(hello.HostId, sequence, Now, [Bucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb")],
            [new CounterDelta("Udp.RcvbufErrors", 5, Now)], [], 0, 0);

    private static async Task<string> RefusedAsync(HubConnection agent, AgentHello hello, AgentBatch batch)
    {
        var ack = await agent.InvokeAsync<JsonElement>(AgentHubContract.BatchMethod, hello, batch);
        return ack.GetProperty("rejected").GetString() ?? throw new Xunit.Sdk.XunitException($"the hub took a batch it must refuse: {ack}");
    }

    private static async Task<long> CreateSessionAsync(WebAppProcess app, string name)
    {
        using var response = await app.Http.PostAsJsonAsync("api/sessions", new { name });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    private static async Task StopSessionAsync(WebAppProcess app, long id)
    {
        using var response = await app.Http.PostAsync($"api/sessions/{id}/stop", null);
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<string> CreateInvestigationAsync(WebAppProcess app, string title, string notes, params long[] sessions)
    {
        using var response = await app.Http.PostAsJsonAsync("api/investigations", new { title, notes, sessions });
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("slug").GetString()!;
    }

    /// <summary>Opens a page, checks the headers it came with, and waits until its circuit is live.</summary>
    private static async Task OpenAsync(IPage page, string path)
    {
        var response = await page.GotoAsync(path) ?? throw new Xunit.Sdk.XunitException($"no response for /{path}");
        Assert.True(response.Ok, $"/{path}: {response.Status}");
        var headers = await response.AllHeadersAsync();
        Assert.Equal(SecurityHeaders.ContentSecurityPolicy, headers.GetValueOrDefault("content-security-policy"));
        Assert.Equal("nosniff", headers.GetValueOrDefault("x-content-type-options"));
        Assert.Equal("DENY", headers.GetValueOrDefault("x-frame-options"));
        Assert.Equal("no-referrer", headers.GetValueOrDefault("referrer-policy"));
        await page.Locator("[data-interactive]").WaitForAsync(new LocatorWaitForOptions { State = WaitForSelectorState.Attached, Timeout = 30_000 });
    }

    /// <summary>Hovers each of the page's charts, once drawn, until its tooltip shows.</summary>
    private static async Task HoverChartsAsync(IPage page, int count)
    {
        var charts = page.Locator(".chart .plot");
        await Assertions.Expect(charts).ToHaveCountAsync(count, new() { Timeout = 30_000 });
        for (var i = 0; i < count; i++) await HoverAsync(charts.Nth(i));
    }

    private static async Task HoverAsync(ILocator plot)
    {
        // A recorded session is a few bars far apart on its time axis: the tooltip shows over a bar, not between.
        var bars = plot.Locator(".apexcharts-bar-area");
        var grid = plot.Locator(".apexcharts-grid");
        await grid.WaitForAsync(new LocatorWaitForOptions { Timeout = 30_000 });
        await (await bars.CountAsync() > 0 ? bars.First : grid).HoverAsync(new LocatorHoverOptions { Force = true });
        await Assertions.Expect(plot.Locator(".apexcharts-tooltip.apexcharts-active")).ToBeVisibleAsync(new() { Timeout = 30_000 });
    }

    private static async Task AssertInertAsync(IPage page, string where)
    {
        Assert.Equal("undefined", await page.EvaluateAsync<string>("typeof window.__pwned"));
        var violations = await page.EvaluateAsync<string[]>("window.__violations");
        Assert.True(violations.Length == 0, $"{where}: Content-Security-Policy violations: {string.Join("; ", violations)}");
    }
}
