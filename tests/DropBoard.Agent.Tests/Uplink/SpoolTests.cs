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
        for (var s = 1; s <= 12; s++) Append(spool, Batch(s));
        var reopened = new Spool(_directory.FullName, 100);
        Append(reopened, Batch(13));

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
    public void A_full_spool_refuses_the_next_batch_and_keeps_every_one_it_has()
    {
        var spool = new Spool(_directory.FullName, 5);
        for (var s = 1; s <= 5; s++) Append(spool, Batch(s));

        var refused = Assert.Throws<SpoolFullException>(() => Append(spool, Batch(6)));
        Assert.Contains("--spool-max 5", refused.Message);
        Assert.Equal(5, spool.Count);
        Assert.Equal(1, spool.Oldest()!.Value.Entry.Batch.Sequence);
        Assert.Empty(_directory.GetFiles("*.tmp"));
    }

    [Fact]
    public void A_write_that_never_finished_is_never_taken_for_a_batch_and_is_cleared_by_the_next_run()
    {
        // What a crash between the write and the rename leaves: a temporary file, whole or not.
        var spool = new Spool(_directory.FullName, 100);
        var kept = Append(spool, Batch(1));
        File.WriteAllBytes(kept + "-unfinished.json.tmp", new SpoolEntry(Hello, Batch(2)).ToBytes());

        Assert.Equal(1, spool.Count);
        var reopened = new Spool(_directory.FullName, 100);
        Assert.Equal([Path.GetFileName(kept)], _directory.GetFiles().Select(f => f.Name));
        Assert.Equal(1, reopened.Oldest()!.Value.Entry.Batch.Sequence);
    }

    [Fact]
    public void A_damaged_file_is_moved_aside_with_a_reason_and_the_rest_still_go_out()
    {
        var spool = new Spool(_directory.FullName, 100);
        Append(spool, Batch(1));
        Append(spool, Batch(2));
        var first = _directory.GetFiles("*.json").OrderBy(f => f.Name).First();
        File.WriteAllBytes(first.FullName, File.ReadAllBytes(first.FullName)[..40]); // a crash mid-write

        Assert.Equal(2, spool.Oldest()!.Value.Entry.Batch.Sequence);
        Assert.Contains(spool.TakeProblems(), p => p.Contains(first.Name) && p.Contains("unreadable") && p.Contains(".bad"));
        Assert.True(File.Exists(first.FullName + ".bad"));
    }

    [Fact]
    public void Files_of_something_else_or_that_cannot_be_read_are_each_moved_aside_and_said_and_the_batches_still_go_out_in_order()
    {
        var spool = new Spool(_directory.FullName, 100);
        Append(spool, Batch(1));
        var name = (int n) => Path.Combine(_directory.FullName, $"{n:D16}-0.json");
        // Sorted between and after the batches: JSON of something else, and a link to nowhere.
        File.WriteAllText(name(0), "{}");
        File.WriteAllText(name(2), """{"hello":{"hostId":"h"},"batch":null}""");
        File.WriteAllText(name(3), "[1,2,3]");
        File.CreateSymbolicLink(name(4), Path.Combine(_directory.FullName, "nowhere"));
        Append(spool, Batch(2));

        var order = new List<long>();
        while (spool.Oldest() is { } next)
        {
            order.Add(next.Entry.Batch.Sequence);
            spool.Remove(next.File);
        }

        Assert.Equal([1L, 2L], order);
        var problems = spool.TakeProblems();
        foreach (var n in new[] { 0, 2, 3, 4 })
        {
            Assert.True(problems.Count(p => p.StartsWith(name(n) + ": unreadable") && p.EndsWith($"moved aside to {name(n)}.bad")) == 1,
                $"{name(n)} in: {string.Join(" | ", problems)}");
            Assert.True(Path.Exists(name(n) + ".bad") || File.ResolveLinkTarget(name(n) + ".bad", false) is not null, $"{name(n)}.bad");
        }
        Assert.Equal(4, problems.Count);
        Assert.Empty(_directory.GetFiles("*.json"));
        Assert.Empty(spool.TakeProblems());
    }

    [Fact]
    public void A_new_spool_never_names_a_batch_like_one_kept_aside_by_an_earlier_run()
    {
        // An earlier run's first batch was refused (kept as .rejected); a new run counts sequences from 1 again.
        var earlier = new Spool(_directory.FullName, 100);
        Append(earlier, Batch(1));
        var refused = _directory.GetFiles("*.json").Single();
        File.Move(refused.FullName, refused.FullName + ".rejected");

        var next = new Spool(_directory.FullName, 100);
        next.Append(1, new SpoolEntry(Hello with { InstanceId = "second run" }, Batch(1)).ToBytes());

        var fresh = next.Oldest()!.Value.File;
        Assert.NotEqual(refused.FullName, fresh);
        Assert.True(string.CompareOrdinal(Path.GetFileName(fresh), refused.Name) > 0, $"{fresh} should sort after {refused.Name}");
    }

    private static string Append(Spool spool, AgentBatch batch) => spool.Append(batch.Sequence, new SpoolEntry(Hello, batch).ToBytes());

    private static AgentBatch Batch(long sequence) =>
        new("h", sequence, 1000 + sequence, [new DropBucket("f+0x1", "f", "NO_SOCKET", 1000, sequence)], [], [], 0, 0);

    public void Dispose() => _directory.Delete(recursive: true);
}
