using System.Text;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Sessions;
using DropBoard.Web.Sessions.Import;

namespace DropBoard.Web.Tests.Sessions;

/// <summary>Dropped flows recorded into a real SQLite file and a real PostgreSQL: summed per site and flow, shown most first, exported and imported losslessly.</summary>
public sealed class SessionFlowsTests
{
    private static readonly long Start = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() / 1000 * 1000;
    private static readonly AgentHello Hello = new("edge-1", "edge-1", "6.18.0", "bpf", "1.0", 10, "i1");
    private const string Udp = "udp_queue_rcv_one_skb+0x437", UdpFunction = "udp_queue_rcv_one_skb";

    private static DroppedFlow Flow(ushort sourcePort, long count, string source = "10.0.0.1") => new(17, source, sourcePort, "10.0.0.2", 53, count, 3);

    private static AgentBatch Batch(long sequence, params FlowSite[] flows) =>
        new(Hello.HostId, sequence, Start + sequence * 1000, [new DropBucket(Udp, UdpFunction, "SOCKET_RCVBUFF", Start + sequence * 1000, 1, 0x0800, 4026532246, "blue")],
            [], [], 0, 0, Flows: flows);

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task Flows_of_a_recording_add_up_per_site_and_flow_and_survive_export_and_import(string engine)
    {
        var database = SessionDatabase.Open(await StoreEngines.NewDatabaseAsync(engine));
        var store = new SessionStore(database, TimeProvider.System);
        var queries = new SessionQueries(database, TimeProvider.System);
        var id = store.Create("flows", null);
        store.AppendAll([
            new SessionWrite([id], Hello, Batch(1, new FlowSite(Udp, UdpFunction, 30, 970, [Flow(4000, 20), Flow(4001, 10)], 4026532246, "blue"))),
            new SessionWrite([id], Hello, Batch(2,
                new FlowSite(Udp, UdpFunction, 25, 475, [Flow(4001, 15), Flow(4002, 10, "fd00::1")], 4026532246, "blue"),
                new FlowSite("tcp_v4_rcv+0x1a", "tcp_v4_rcv", 4, 0, [new DroppedFlow(6, "10.0.0.9", 80, "10.0.0.2", 5555, 4, 2)]))),
        ]);
        store.Append(id, Hello, Batch(2)); // a resend adds nothing

        var flows = queries.Flows(id);

        Assert.Equal((59L, 1445L), (flows.Sampled, flows.NotSampled));
        var udp = flows.Sites[0];
        Assert.Equal((Udp, 55L, 1445L, 4026532246u, "blue"), (udp.Site, udp.Sampled, udp.NotSampled, udp.Netns, udp.NetnsName));
        Assert.Equal([(4001, 25L, "10.0.0.1"), (4000, 20L, "10.0.0.1"), (4002, 10L, "fd00::1")], udp.Top.Select(f => ((int)f.SourcePort, f.Count, f.Source)));
        Assert.Equal(("tcp_v4_rcv+0x1a", 4L, (byte)6), (flows.Sites[1].Site, flows.Sites[1].Sampled, flows.Sites[1].Top.Single().IpProtocol));

        store.Stop(id);
        var first = SessionFileJson.Write(queries.Export(id)!);
        var again = queries.Export(store.Import(SessionFileJson.Read(first, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())))!;
        Assert.Equal(Encoding.UTF8.GetString(first), Encoding.UTF8.GetString(SessionFileJson.Write(again)));
        Assert.Equal([55L, 4L], again.Hosts.Single().Flows!.Select(f => f.Sampled));
    }

    [Fact]
    public void An_import_with_a_flow_address_that_is_not_an_address_is_refused_with_its_place()
    {
        var host = new SessionFileHost("edge-1", "edge-1", "6.18.0", "bpf", 10, 0, [], [], [], null,
            [new FlowSite(Udp, UdpFunction, 1, 0, [new DroppedFlow(17, "<b>10.0.0.1</b>", 1, "10.0.0.2", 2, 1)])]);
        var file = new SessionFile(SessionFile.FormatName, 1, "bad", "import", Start, Start + 1000, "", [host], []);

        var e = Assert.Throws<ImportException>(() => SessionFileCheck.Check(file, Start + 10_000));

        Assert.Contains("hosts[0].flows[0].top[0]", e.Message);
        Assert.Contains("is not an IP address", e.Message);
    }
}
