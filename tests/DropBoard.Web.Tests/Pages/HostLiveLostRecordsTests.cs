using System.Text.Json;
using Bunit;
using DropBoard.Agent.Pipeline;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using DropBoard.Web.Components.Pages;
using DropBoard.Web.Hub;
using DropBoard.Web.Tests.Live;

namespace DropBoard.Web.Tests.Pages;

/// <summary>
/// A real tracepoint agent with rings far too small for a UDP flood loses records; its batches, read as the hub reads
/// them, reach the host page, which says how many were lost and what to raise: the agent's own setting and its value.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class HostLiveLostRecordsTests : PageTest
{
    [Fact]
    public async Task The_lost_badge_counts_the_records_and_names_the_ring_setting_the_agent_reports()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        // 8 KiB a CPU holds ~110 records: a flood read an eighth full at a time overflows it.
        var pipeline = AgentPipeline.Start(new AgentOptions { Source = SourceKind.Tracepoint, NetNamespace = ns.Name, RingKb = 8 });
        var batches = new List<AgentBatch>();
        var reading = Task.Run(async () =>
        {
            await foreach (var batch in pipeline.Batches.ReadAllAsync()) lock (batches) batches.Add(batch);
        });
        for (var flood = 0; flood < 5 && LostSoFar(batches) == 0; flood++)
        {
            UdpTraffic.OverflowReceiveBuffer(ns, 20_000, port: 7401 + flood);
            await Task.Delay(1500);
        }
        await pipeline.DisposeAsync();
        await reading;

        var lost = batches.Sum(b => b.LostRecords);
        Assert.True(lost > 0, "five floods into 8 KiB rings lost no record");
        Assert.Equal("raise --ring-kb (now 8 KiB per CPU)", pipeline.Hello.LostRecordsFix);
        foreach (var batch in batches)
        {
            // As the hub takes them: JSON from the wire, checked.
            var read = BatchCheck.Read(Wire(pipeline.Hello, ContractsJson.Default.AgentHello), Wire(batch, ContractsJson.Default.AgentBatch));
            Assert.Null(read.Problem);
            await Live.OnBatchAsync(read.Hello!, read.Batch!, Xunit.TestContext.Current.CancellationToken);
        }

        var page = Render<HostLive>(p => p.Add(x => x.HostId, pipeline.Hello.HostId));

        var badge = page.Find(".badges .badge.lost[data-lost]");
        Assert.Equal(lost.ToString(System.Globalization.CultureInfo.InvariantCulture), badge.GetAttribute("data-lost"));
        Assert.Equal($"{lost:N0} drop records lost by the kernel: drop counts are low; raise --ring-kb (now 8 KiB per CPU)", badge.TextContent);
    }

    /// <summary>Through the wire's JSON and back, as the hub's protocol reads an argument.</summary>
    private static Incoming<T> Wire<T>(T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> contract) where T : class =>
        new(JsonSerializer.Deserialize(JsonSerializer.Serialize(value, contract), contract), null);

    private static long LostSoFar(List<AgentBatch> batches)
    {
        lock (batches) return batches.Sum(b => b.LostRecords);
    }
}
