using DropBoard.Agent.Uplink;
using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Tests.Uplink;

/// <summary>The outbox over a real spool directory; <c>--spool-max</c> stands in for a disk that takes no more.</summary>
public sealed class OutboxTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("dropboard-outbox-test-");
    private readonly StringWriter _said = new();
    private static readonly AgentHello Hello = new("h", "h", "6.18", "tracepoint", "t", 10, "i");

    [Fact]
    public async Task Batches_go_out_once_each_in_order_while_they_move_between_a_full_spool_memory_and_back()
    {
        // The capture side adds while the sender reads and acknowledges; the spool holds 3, so most batches pass
        // through memory, and some move to the spool while the sender holds them.
        var outbox = new Outbox(new Spool(_directory.FullName, 3), 1 << 30, _said);
        const int batches = 600;
        var adding = Task.Run(() =>
        {
            for (var s = 1L; s <= batches; s++) outbox.Add(Hello, Batch(s, drops: s));
        });
        var sent = new List<long>();
        while (sent.Count < batches)
        {
            if (outbox.Next() is not { } next) continue;
            sent.Add(next.Entry.Batch.Sequence);
            outbox.Acknowledge(next);
        }
        await adding;

        Assert.Equal(Enumerable.Range(1, batches).Select(s => (long)s), sent);
        Assert.Null(outbox.Next());
        Assert.Equal(0, outbox.Unsent);
        Assert.Empty(_directory.GetFiles());
        Assert.Equal(0, outbox.DiscardedBatches);
    }

    [Fact]
    public void Past_the_memory_bound_batches_are_discarded_counted_said_once_and_carried_by_the_next_batch_kept()
    {
        var size = new SpoolEntry(Hello, Batch(1, drops: 10)).ToBytes().Length;
        var outbox = new Outbox(new Spool(_directory.FullName, 0), 2 * size + size / 2, _said);
        for (var s = 1L; s <= 5; s++) outbox.Add(Hello, Batch(s, drops: 10 * s));

        Assert.Equal((3L, 120L), (outbox.DiscardedBatches, outbox.DiscardedDrops)); // batches 3, 4 and 5
        Assert.Equal(1, Occurrences(_said.ToString(), "cannot keep batches in the spool"));
        Assert.Equal(1, Occurrences(_said.ToString(), "discarding new batches"));
        Assert.Contains("(--backlog-kb)", _said.ToString());

        // The dashboard takes one: room again, and the next batch tells it what went missing before it, and why.
        var first = outbox.Next()!;
        Assert.Equal(1, first.Entry.Batch.Sequence);
        Assert.Null(first.Entry.Batch.SpoolProblem); // made before the spool refused anything
        outbox.Acknowledge(first);
        outbox.Add(Hello, Batch(6, drops: 60));
        Assert.Contains("3 batches holding 120 drops discarded (NO_SOCKET 120); 3 in all", _said.ToString());
        Assert.Equal(2, outbox.Next()!.Entry.Batch.Sequence);
        outbox.Acknowledge(outbox.Next()!);
        var sixth = outbox.Next()!.Entry.Batch;
        Assert.Equal((6L, 3L, 120L), (sixth.Sequence, sixth.BatchesDiscarded, sixth.DropsDiscarded));
        Assert.Contains("--spool-max 0", sixth.SpoolProblem);
    }

    [Fact]
    public void Batches_in_memory_move_to_the_spool_when_it_takes_them_again_and_the_rest_count_as_lost_at_exit()
    {
        var spool = new Spool(_directory.FullName, 2);
        var outbox = new Outbox(spool, 1 << 20, _said);
        for (var s = 1L; s <= 4; s++) outbox.Add(Hello, Batch(s, drops: 1));
        Assert.Matches(@"^2 batches spooled, 2 in memory \(\d+ KB\)$", outbox.Describe()); // the size follows the batch format

        // One acknowledged: the next batch added finds room on disk for the oldest in memory first.
        outbox.Acknowledge(outbox.Next()!);
        outbox.Add(Hello, Batch(5, drops: 1));
        Assert.Contains("takes batches again", _said.ToString());
        Assert.Matches(@"^2 batches spooled, 2 in memory \(\d+ KB\)$", outbox.Describe()); // the size follows the batch format
        Assert.Equal([2L, 3L], _directory.GetFiles("*.json").Select(f => f.Name).Order().Select(n => long.Parse(n.Split('-', '.')[1])));

        outbox.Close();
        Assert.Equal((2L, 2L), (outbox.DiscardedBatches, outbox.DiscardedDrops));
        Assert.Equal(2, outbox.Unsent);
        Assert.Equal("2 batches holding 2 drops (NO_SOCKET 2)", outbox.DiscardSummary());
    }

    [Fact]
    public void A_spool_directory_removed_under_the_agent_is_a_write_error_like_any_other_and_nothing_is_lost()
    {
        var outbox = new Outbox(new Spool(_directory.FullName, 100), 1 << 20, _said);
        outbox.Add(Hello, Batch(1, drops: 1));
        _directory.Delete(recursive: true);
        outbox.Add(Hello, Batch(2, drops: 1));
        outbox.Add(Hello, Batch(3, drops: 1));

        Assert.Equal(1, Occurrences(_said.ToString(), "cannot keep batches in the spool"));
        Assert.StartsWith("0 batches spooled, 2 in memory", outbox.Describe()); // the first went with its directory
        _directory.Create();
        outbox.Add(Hello, Batch(4, drops: 1));
        Assert.Equal([2L, 3L, 4L], _directory.GetFiles("*.json").Select(f => f.Name).Order().Select(n => long.Parse(n.Split('-', '.')[1])));
    }

    [Fact]
    public void A_batch_refused_for_good_from_memory_is_kept_aside_on_disk()
    {
        var outbox = new Outbox(new Spool(_directory.FullName, 0), 1 << 20, _said);
        outbox.Add(Hello, Batch(7, drops: 1));

        var pending = outbox.Next()!;
        Assert.NotNull(pending.InMemory);
        var where = outbox.KeepAside(pending);

        var aside = Assert.Single(_directory.GetFiles("*.rejected"));
        Assert.Equal($"kept as {aside.FullName}", where);
        Assert.Equal(7, SpoolEntry.FromBytes(File.ReadAllBytes(aside.FullName)).Batch.Sequence);
        Assert.Null(outbox.Next());
    }

    private static AgentBatch Batch(long sequence, long drops) =>
        new("h", sequence, 1000 + sequence, [new DropBucket("f+0x1", "f", "NO_SOCKET", 1000, drops)], [], [], 0, 0);

    private static int Occurrences(string text, string what) => (text.Length - text.Replace(what, "").Length) / what.Length;

    public void Dispose() => _directory.Delete(recursive: true);
}
