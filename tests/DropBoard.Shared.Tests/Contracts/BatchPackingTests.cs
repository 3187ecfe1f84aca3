using System.Buffers.Binary;
using System.Formats.Cbor;
using System.Reflection;
using System.Text.Json;
using DropBoard.Shared.Contracts;

namespace DropBoard.Shared.Tests.Contracts;

public sealed class BatchPackingTests
{
    /// <summary>A batch with every member set, nested lists and all.</summary>
    private static readonly AgentBatch Full = new(
        "host-a", 42, 1_700_000_000_250,
        [
            new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 1_700_000_000_000, 174, 0x0800, 4026531840, "blue"),
            new DropBucket("net_tx_action+0x1a2", "net_tx_action", null, 1_700_000_000_010, 3),
        ],
        [new CounterDelta("Udp.RcvbufErrors", 174, 1_700_000_000_250, 4026531840), new CounterDelta("Qdisc.eth0.8001:.dropped", 3, 1_700_000_000_250)],
        [new DropSample(1_700_000_000_001_000_000, "udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 0x86DD, "eth0", 1280, [0x60, 0, 0, 0])],
        LostRecords: 7, SamplesSuppressed: 9,
        Frees: [new DropBucket("skb_consume_udp+0x2f", "skb_consume_udp", null, 1_700_000_000_000, 1000)],
        BatchesDiscarded: 2, DropsDiscarded: 500, SpoolProblem: "No space left on device",
        CounterTexts: new Dictionary<string, string> { ["Netfilter.ip.filter.INPUT.5"] = "-p udp --dport 9 -j DROP" },
        Flows: [new FlowSite("nf_hook_slow+0x9e", "nf_hook_slow", 12, 4, [new DroppedFlow(17, "10.0.0.1", 5353, "10.0.0.2", 9, 12, 3)], 4026531840, "blue")],
        Paths: [new PathSite("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", 174,
            [new StackPath(["udp_queue_rcv_one_skb+0x437", "udp_unicast_rcv_skb+0x76"], 170), new StackPath([], 3, "EEXIST")], 1, 4026531840, "blue")]);

    [Fact]
    public void A_packed_batch_unpacks_to_the_same_batch_member_for_member()
    {
        var (batch, problem) = BatchPacking.Unpack(BatchPacking.Pack(Full));

        Assert.Null(problem);
        // The records hold lists, which compare by reference: compare what they say instead.
        Assert.Equal(JsonSerializer.Serialize(Full, ContractsJson.Default.AgentBatch), JsonSerializer.Serialize(batch!, ContractsJson.Default.AgentBatch));
    }

    [Fact]
    public void The_full_batch_sets_every_member_of_every_record_so_the_round_trip_covers_a_new_one()
    {
        // Per record type, the members set (not null, not default, not empty) in at least one of its instances.
        var set = new Dictionary<Type, HashSet<string>>();
        void Visit(object record)
        {
            var type = record.GetType();
            var seen = set.TryGetValue(type, out var s) ? s : set[type] = [];
            foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                var value = property.GetValue(record);
                if (value is null || (property.PropertyType.IsValueType && value.Equals(Activator.CreateInstance(property.PropertyType)))) continue;
                if (value is System.Collections.IEnumerable items and not string)
                {
                    var any = false;
                    foreach (var item in items)
                    {
                        any = true;
                        if (item.GetType().Namespace == typeof(AgentBatch).Namespace) Visit(item);
                    }
                    if (!any) continue;
                }
                seen.Add(property.Name);
            }
        }
        Visit(Full);

        var unset = set.SelectMany(t => t.Key.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => !t.Value.Contains(p.Name)).Select(p => $"{t.Key.Name}.{p.Name}")).ToList();
        Assert.Empty(unset);
        Assert.Equal(8, set.Count);
    }

    [Fact]
    public void A_reader_skips_members_added_after_its_own_and_defaults_those_an_older_writer_did_not_send()
    {
        var newer = new CborWriter();
        newer.WriteStartArray(16);
        newer.WriteTextString("host-a");
        newer.WriteInt64(7);
        newer.WriteInt64(1_700_000_000_250);
        newer.WriteStartArray(1);
        newer.WriteStartArray(9);
        newer.WriteTextString("udp_queue_rcv_one_skb+0x437");
        newer.WriteTextString("udp_queue_rcv_one_skb");
        newer.WriteTextString("SOCKET_RCVBUFF");
        newer.WriteInt64(1_700_000_000_000);
        newer.WriteInt64(5);
        newer.WriteUInt32(0x0800);
        newer.WriteUInt32(0);
        newer.WriteNull();
        newer.WriteStartMap(1); // a member of tomorrow's bucket
        newer.WriteTextString("later");
        newer.WriteInt32(1);
        newer.WriteEndMap();
        newer.WriteEndArray();
        newer.WriteEndArray();
        foreach (var _ in Enumerable.Range(0, 2))
        {
            newer.WriteStartArray(0);
            newer.WriteEndArray();
        }
        newer.WriteInt64(0);
        newer.WriteInt64(0);
        newer.WriteNull();
        newer.WriteInt64(0);
        newer.WriteInt64(0);
        for (var i = 11; i < 15; i++) newer.WriteNull();
        newer.WriteTextString("a member of tomorrow's batch");
        newer.WriteEndArray();

        var (fromNewer, problem) = BatchPacking.Unpack(newer.Encode());
        Assert.Null(problem);
        Assert.Equal(new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 1_700_000_000_000, 5, 0x0800), fromNewer!.Drops.Single());

        var older = new CborWriter();
        older.WriteStartArray(3);
        older.WriteTextString("host-a");
        older.WriteInt64(8);
        older.WriteInt64(1_700_000_000_500);
        older.WriteEndArray();
        var (fromOlder, olderProblem) = BatchPacking.Unpack(older.Encode());
        Assert.Null(olderProblem);
        Assert.Equal(8, fromOlder!.Sequence);
        Assert.Null(fromOlder.Drops); // the hub's check says what is missing
        Assert.Null(fromOlder.SpoolProblem);
    }

    [Fact]
    public void Packed_is_smaller_than_the_same_batch_as_JSON() =>
        Assert.True(BatchPacking.Pack(Full).Length < JsonSerializer.SerializeToUtf8Bytes(Full, ContractsJson.Default.AgentBatch).Length);

    [Fact]
    public void Every_truncation_of_a_packed_batch_is_said_to_be_wrong_and_none_throws()
    {
        var packed = BatchPacking.Pack(Full);
        Assert.Equal("no packed bytes", BatchPacking.Unpack(Array.Empty<byte>()).Problem);
        for (var length = 1; length < packed.Length; length++)
        {
            var (batch, problem) = BatchPacking.Unpack(packed.AsMemory(0, length));
            Assert.True(batch is null && problem is not null, $"{length} of {packed.Length} bytes read as a batch");
        }
    }

    [Fact]
    public void Lengths_claimed_far_past_the_bytes_are_refused_without_allocating_what_they_claim()
    {
        var packed = BatchPacking.Pack(Full);
        var random = new Random(17);
        for (var at = 0; at + 4 <= packed.Length; at++)
        {
            var bad = packed.ToArray();
            BinaryPrimitives.WriteInt32LittleEndian(bad.AsSpan(at), at % 2 == 0 ? int.MaxValue : 100_000_000 + random.Next(1000));
            var before = GC.GetAllocatedBytesForCurrentThread();
            var (batch, problem) = BatchPacking.Unpack(bad);
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 16 << 20, $"a length written at byte {at} made the reader allocate {allocated:N0} bytes");
            Assert.True(batch is not null ^ problem is not null);
        }
    }

    [Fact]
    public void Random_bytes_are_said_to_be_wrong_and_none_throws()
    {
        var random = new Random(5);
        for (var i = 0; i < 2_000; i++)
        {
            var bytes = new byte[random.Next(1, 300)];
            random.NextBytes(bytes);
            var (batch, problem) = BatchPacking.Unpack(bytes);
            Assert.True(batch is not null ^ problem is not null);
        }
    }
}
