using DropBoard.Agent.Uplink;
using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Tests.Uplink;

public sealed class SpoolTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("dropboard-spool-test-");
    private static readonly AgentHello Hello = new("h", "h", "6.18", "tracepoint", "t", 10, "i");

    [Fact]
    public void Batches_leave_in_the_order_they_came_and_survive_a_new_spool_over_the_same_directory()
    {
        var spool = new Spool(_directory.FullName, 100);
        for (var s = 1; s <= 12; s++) spool.Append(Hello, Batch(s));
        var reopened = new Spool(_directory.FullName, 100);
        reopened.Append(Hello, Batch(13));

        var order = new List<long>();
        while (reopened.Oldest() is { } next)
        {
            order.Add(next.Entry.Batch.Sequence);
            Assert.Equal(next.Entry.Batch.Sequence, next.Entry.Batch.Drops.Single().Count);
            reopened.Remove(next.File);
        }
        Assert.Equal(Enumerable.Range(1, 13).Select(i => (long)i), order);
    }

    [Fact]
    public void A_full_spool_evicts_the_oldest_and_counts_them()
    {
        var spool = new Spool(_directory.FullName, 5);
        for (var s = 1; s <= 8; s++) spool.Append(Hello, Batch(s));

        Assert.Equal(3, spool.Evicted);
        Assert.Equal(5, spool.Count);
        Assert.Equal(4, spool.Oldest()!.Value.Entry.Batch.Sequence);
    }

    [Fact]
    public void A_damaged_file_is_moved_aside_with_a_reason_and_the_rest_still_go_out()
    {
        var spool = new Spool(_directory.FullName, 100);
        spool.Append(Hello, Batch(1));
        spool.Append(Hello, Batch(2));
        var first = _directory.GetFiles("*.json").OrderBy(f => f.Name).First();
        File.WriteAllBytes(first.FullName, File.ReadAllBytes(first.FullName)[..40]); // a crash mid-write

        Assert.Equal(2, spool.Oldest()!.Value.Entry.Batch.Sequence);
        Assert.Contains(spool.Problems, p => p.Contains(first.Name) && p.Contains("unreadable") && p.Contains(".bad"));
        Assert.True(File.Exists(first.FullName + ".bad"));
    }

    private static AgentBatch Batch(long sequence) =>
        new("h", sequence, 1000 + sequence, [new DropBucket("f+0x1", "f", "NO_SOCKET", 1000, sequence)], [], [], 0, 0);

    public void Dispose() => _directory.Delete(recursive: true);
}
