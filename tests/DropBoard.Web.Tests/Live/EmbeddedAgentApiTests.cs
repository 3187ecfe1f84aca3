using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.TestKit;

namespace DropBoard.Web.Tests.Live;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KernelCollection
{
    public const string Name = "kernel";
}

/// <summary>
/// The real dashboard with its embedded agent, against real receive-buffer drops made in a fresh network
/// namespace: the live API must report exactly the drops the namespace counted.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class EmbeddedAgentApiTests
{
    [Fact]
    public async Task Live_sites_api_reports_exactly_the_receive_buffer_drops_the_kernel_counted()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        await using var app = await WebAppProcess.StartAsync();
        var host = await LiveApiReads.FirstHostAsync(app);

        var before = ns.Snmp("Udp", "RcvbufErrors");
        var (sent, received) = UdpTraffic.OverflowReceiveBuffer(ns, 2000, port: 7101);
        var drops = ns.Snmp("Udp", "RcvbufErrors") - before;
        Assert.Equal(sent - received, drops);
        Assert.True(drops > 500, $"only {drops} drops");

        // Batches leave the agent every 250 ms; wait for them, then make sure no more come.
        await LiveApiReads.WaitForReasonCountAsync(app, host, "SOCKET_RCVBUFF", drops);
        await Task.Delay(600);
        Assert.Equal(drops, await LiveApiReads.ReasonCountAsync(app, host, "SOCKET_RCVBUFF"));
        // The protocol comes from the tracepoint's skb->protocol: these were IPv4 datagrams.
        var ipv4 = await app.Http.GetFromJsonAsync<JsonElement>($"api/live/sites?host={host}&seconds=600&reason=SOCKET_RCVBUFF&protocol=IPv4");
        Assert.Equal(drops, ipv4.EnumerateArray().Sum(s => s.GetProperty("count").GetInt64()));
    }

    [Fact]
    public async Task Without_the_embedded_agent_the_dashboard_serves_an_empty_host_list_and_says_so_for_unknown_hosts()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");

        Assert.Equal("[]", await app.Http.GetStringAsync("api/hosts"));
        using var response = await app.Http.GetAsync("api/live/sites?host=nosuchhost");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("no host 'nosuchhost'", await response.Content.ReadAsStringAsync());
        var page = await app.Http.GetStringAsync("/");
        Assert.Contains("No host has reported yet", page);
        Assert.Contains("turned off", page);
    }
}
