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
        Assert.Contains(spool.TakeProblems(), p => p.Contains(first.Name) && p.Contains("unreadable") && p.Contains(".bad"));
        Assert.True(File.Exists(first.FullName + ".bad"));
    }

    [Fact]
    public void Reading_the_oldest_while_a_full_spool_evicts_never_fails_and_never_goes_backwards()
    {
        // The sender reads the oldest batch while the capture side appends and, when full, deletes that very file.
        var spool = new Spool(_directory.FullName, 2);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(2));
        var appending = Task.Run(() =>
        {
            for (var s = 1L; !stop.IsCancellationRequested; s++) spool.Append(Hello, Batch(s));
        });
        var reads = 0;
        var newest = 0L;
        while (!appending.IsCompleted)
        {
            if (spool.Oldest() is not { } oldest) continue;
            Assert.True(oldest.Entry.Batch.Sequence >= newest, $"read batch {oldest.Entry.Batch.Sequence} after {newest}");
            newest = oldest.Entry.Batch.Sequence;
            reads++;
        }
        appending.GetAwaiter().GetResult();
        Assert.True(reads > 100, $"only {reads} reads overlapped the appends");
        Assert.Empty(spool.TakeProblems());
    }

    [Fact]
    public void A_new_spool_never_names_a_batch_like_one_kept_aside_by_an_earlier_run()
    {
        // An earlier run's first batch was refused (kept as .rejected); a new run counts sequences from 1 again.
        var earlier = new Spool(_directory.FullName, 100);
        earlier.Append(Hello, Batch(1));
        var refused = _directory.GetFiles("*.json").Single();
        File.Move(refused.FullName, refused.FullName + ".rejected");

        var next = new Spool(_directory.FullName, 100);
        next.Append(Hello with { InstanceId = "second run" }, Batch(1));

        var fresh = next.Oldest()!.Value.File;
        Assert.NotEqual(refused.FullName, fresh);
        Assert.True(string.CompareOrdinal(Path.GetFileName(fresh), refused.Name) > 0, $"{fresh} should sort after {refused.Name}");
    }

    private static AgentBatch Batch(long sequence) =>
        new("h", sequence, 1000 + sequence, [new DropBucket("f+0x1", "f", "NO_SOCKET", 1000, sequence)], [], [], 0, 0);

    public void Dispose() => _directory.Delete(recursive: true);
}
