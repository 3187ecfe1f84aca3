using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
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
        var host = await FirstHostAsync(app);

        var before = RcvbufErrors(ns);
        var (sent, received) = Overflow(ns, 2000);
        var drops = RcvbufErrors(ns) - before;
        Assert.Equal(sent - received, drops);
        Assert.True(drops > 500, $"only {drops} drops");

        // Batches leave the agent every 250 ms; give it a few.
        long reported = 0;
        for (var i = 0; i < 40 && reported < drops; i++)
        {
            await Task.Delay(250);
            var sites = await app.Http.GetFromJsonAsync<JsonElement>($"api/live/sites?host={host}&seconds=120");
            reported = sites.EnumerateArray().Where(s => s.GetProperty("reason").GetString() == "SOCKET_RCVBUFF").Sum(s => s.GetProperty("count").GetInt64());
        }
        await Task.Delay(600);
        var final = await app.Http.GetFromJsonAsync<JsonElement>($"api/live/sites?host={host}&seconds=120");
        Assert.Equal(drops, final.EnumerateArray().Where(s => s.GetProperty("reason").GetString() == "SOCKET_RCVBUFF").Sum(s => s.GetProperty("count").GetInt64()));
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

    private static async Task<string> FirstHostAsync(WebAppProcess app)
    {
        for (var i = 0; i < 50; i++)
        {
            var hosts = await app.Http.GetFromJsonAsync<JsonElement>("api/hosts");
            if (hosts.GetArrayLength() > 0) return hosts[0].GetProperty("hostId").GetString()!;
            await Task.Delay(200);
        }
        throw new TimeoutException($"the embedded agent never reported:\n{app.Log}");
    }

    private static long RcvbufErrors(NetNamespace ns)
    {
        var lines = ns.ReadProcNet("snmp").Split('\n').Where(l => l.StartsWith("Udp: ")).ToArray();
        var names = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(lines[1].Split(' ', StringSplitOptions.RemoveEmptyEntries)[Array.IndexOf(names, "RcvbufErrors")]);
    }

    private static (int Sent, int Received) Overflow(NetNamespace ns, int datagrams)
    {
        using var receiver = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        receiver.ReceiveBufferSize = 1024;
        receiver.Bind(new IPEndPoint(IPAddress.Loopback, 7101));
        using var sender = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        for (var i = 0; i < datagrams; i++) sender.SendTo(new byte[200], new IPEndPoint(IPAddress.Loopback, 7101));
        var received = 0;
        while (receiver.Available > 0)
        {
            receiver.Receive(new byte[2048]);
            received++;
        }
        return (datagrams, received);
    }
}
