using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.TestKit;
using static DropBoard.Web.Tests.Sessions.SessionApiReads;

namespace DropBoard.Web.Tests.Live;

/// <summary>
/// A real nft rule dropping real datagrams in a network namespace, a real agent streaming to a real dashboard that
/// records a session started after the rule's text arrived: the rule's counter, live and in the session, is the packet
/// count <c>nft -j list ruleset</c> gives (the session's from its start), comes with the rule's text, and equals the
/// drops captured with reason NETFILTER_DROP.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class CounterTextsTests
{
    private const string Token = "counter-texts-test-token";
    private const int Port = 7421;
    private static readonly string[] NetfilterFunctions = ["nf_hook_slow", "nft_do_chain"];

    [Fact]
    public async Task A_rules_counter_live_and_recorded_is_nfts_packet_count_with_the_rules_text_and_its_NETFILTER_DROP_drops()
    {
        Privileged.RequireCommand("nft", "nftables");
        using var ns = NetNamespace.Create();
        ns.Exec("nft", "add table inet dbt; add chain inet dbt input { type filter hook input priority 0; };"
                       + $" add rule inet dbt input udp dport {Port} counter drop comment \"dropboard <b>rule</b>\"");
        using var _ = KernelTestLock.Acquire();
        await using var app = await WebAppProcess.StartAsync($"DropBoard:AgentToken={Token}", "DropBoard:EmbeddedAgent=false");
        var spool = Directory.CreateTempSubdirectory("dropboard-spool-");
        using var agent = AgentProcess.Start("run", "--server", app.BaseAddress.ToString(), "--token", Token, "--spool", spool.FullName,
            "--netns", ns.Name, "--source", "tracepoint");
        await agent.WaitUntilCapturingAsync();
        var host = await LiveApiReads.FirstHostAsync(app);
        var (handle, _) = NftRule(ns);
        var name = $"Netfilter.inet.dbt.input.{handle}";

        // The agent sends the rule's text once, with its first batch: a session started after that still gets it.
        UdpTraffic.SendTo(ns, 5, Port);
        Assert.Equal(5, (await WaitForAsync(() => CounterAsync(app, $"api/live/counters?host={host}&seconds=600", name), c => c.Delta >= 5)).Delta);
        // Its 5 drops too: a drop can reach the dashboard a batch after the counter that counts it.
        Assert.Equal(5, await WaitForAsync(() => NetfilterDropsAsync(app, $"api/live/sites?host={host}&seconds=600"), d => d >= 5));
        var session = await CreateAsync(app, "rule texts");

        UdpTraffic.SendTo(ns, 300, Port);
        var (_, packets) = NftRule(ns);
        Assert.Equal(305, packets);

        var live = await WaitForAsync(() => CounterAsync(app, $"api/live/counters?host={host}&seconds=600", name), c => c.Delta >= packets);
        Assert.Equal(packets, live.Delta);
        Assert.Equal($"meta l4proto 17 th dport {Port} counter drop comment \"dropboard <b>rule</b>\"", live.Text);
        Assert.Equal(packets, await WaitForAsync(() => NetfilterDropsAsync(app, $"api/live/sites?host={host}&seconds=600"), d => d >= packets));

        var recorded = await WaitForAsync(() => CounterAsync(app, $"api/sessions/{session}/counters", name), c => c.Delta >= packets - 5);
        Assert.Equal((packets - 5, live.Text), (recorded.Delta, recorded.Text));
        Assert.Equal(packets - 5, await WaitForAsync(() => NetfilterDropsAsync(app, $"api/sessions/{session}/sites"), d => d >= packets - 5));

        // The text travels in the export and comes back with its import.
        var export = await app.Http.GetByteArrayAsync($"api/sessions/{session}/export?format=json");
        Assert.Equal(live.Text, JsonDocument.Parse(export).RootElement.GetProperty("hosts")[0].GetProperty("counterTexts").GetProperty(name).GetString());
        var (status, body) = await ImportAsync(app, "dropboard", new ByteArrayContent(export), "&name=again");
        Assert.Equal(System.Net.HttpStatusCode.Created, status);
        var imported = await CounterAsync(app, $"api/sessions/{body.GetProperty("sessionId").GetInt64()}/counters", name);
        Assert.Equal((packets - 5, live.Text), (imported.Delta, imported.Text));
        agent.Terminate();
        await agent.WaitForExitAsync();
        spool.Delete(recursive: true);
    }

    private static (long Handle, long Packets) NftRule(NetNamespace ns)
    {
        var rule = JsonDocument.Parse(ns.Exec("nft", "-j", "list", "ruleset")).RootElement.GetProperty("nftables").EnumerateArray()
            .Single(i => i.TryGetProperty("rule", out _)).GetProperty("rule");
        return (rule.GetProperty("handle").GetInt64(),
            rule.GetProperty("expr").EnumerateArray().Single(e => e.TryGetProperty("counter", out _)).GetProperty("counter").GetProperty("packets").GetInt64());
    }

    /// <summary>One counter of a counters API answer: its rise summed, and its text (null when it has none).</summary>
    private static async Task<(long Delta, string? Text)> CounterAsync(WebAppProcess app, string path, string name)
    {
        var rows = (await app.Http.GetFromJsonAsync<JsonElement>(path)).EnumerateArray().Where(c => c.GetProperty("name").GetString() == name).ToList();
        var texts = rows.Select(c => c.TryGetProperty("text", out var t) ? t.GetString() : null).Distinct().ToList();
        return (rows.Sum(c => c.GetProperty("delta").GetInt64()), texts.SingleOrDefault());
    }

    private static async Task<long> NetfilterDropsAsync(WebAppProcess app, string path) =>
        (await app.Http.GetFromJsonAsync<JsonElement>(path)).EnumerateArray()
            .Where(s => s.GetProperty("reason").GetString() == "NETFILTER_DROP" && NetfilterFunctions.Contains(s.GetProperty("function").GetString()))
            .Sum(s => s.GetProperty("count").GetInt64());

    private static async Task<T> WaitForAsync<T>(Func<Task<T>> read, Func<T, bool> done)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        T value;
        while (!done(value = await read()) && DateTime.UtcNow < deadline) await Task.Delay(200);
        return value;
    }
}
