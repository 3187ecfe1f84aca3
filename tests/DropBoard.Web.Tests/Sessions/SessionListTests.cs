using DropBoard.Shared.Contracts;
using DropBoard.Web.Sessions;

namespace DropBoard.Web.Tests.Sessions;

/// <summary>The session list, read and sorted by the database in one query, from a real SQLite file and a real PostgreSQL database.</summary>
public sealed class SessionListTests
{
    private SessionStore _store = null!;
    private SessionQueries _queries = null!;

    private async Task OpenAsync(string engine)
    {
        var database = SessionDatabase.Open(await StoreEngines.NewDatabaseAsync(engine));
        _store = new SessionStore(database, TimeProvider.System);
        _queries = new SessionQueries(database, TimeProvider.System);
    }

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task Every_sort_orders_as_the_page_promises_and_each_row_is_the_whole_session(string engine)
    {
        await OpenAsync(engine);
        var t0 = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() - 3_600_000;
        // Names differing in case and beyond ASCII, equal drop counts and durations: ties must fall by id.
        Import("beta", t0, 60_000, ("edge-2", 40), ("edge-1", 5));
        Import("Alpha", t0 + 1000, 10_000, ("edge-1", 45));
        Import("élan", t0 + 2000, 60_000, ("edge-3", 7));
        Import("alpha two", t0 + 3000, 5_000);
        Import("Émile", t0 - 5000, 120_000, ("edge-1", 45), ("edge-2", 900));
        var recording = _store.Create("recording now", ["edge-9"]);
        _store.MarkGap(recording, t0, t0 + 10, "second gap");
        _store.MarkGap(recording, t0 - 10, t0, "first gap");

        var all = _queries.List("", "newest").Select(s => s.Id).Select(id => _queries.Get(id)!).ToList();
        Assert.Equal(6, all.Count);
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var expected = new Dictionary<string, IEnumerable<SessionInfo>>
        {
            ["newest"] = all.OrderByDescending(s => s.StartedMs).ThenBy(s => s.Id),
            ["oldest"] = all.OrderBy(s => s.StartedMs).ThenBy(s => s.Id),
            ["name"] = all.OrderBy(s => s.Name, StringComparer.OrdinalIgnoreCase).ThenBy(s => s.Id),
            ["drops"] = all.OrderByDescending(s => s.Drops).ThenBy(s => s.Id),
            ["size"] = all.OrderByDescending(s => s.Rows).ThenBy(s => s.Id),
            ["duration"] = all.OrderByDescending(s => s.DurationMs(now)).ThenBy(s => s.Id),
            ["no such sort"] = all.OrderByDescending(s => s.StartedMs).ThenBy(s => s.Id),
        };
        foreach (var (sort, order) in expected)
            Assert.True(order.Select(s => s.Name).SequenceEqual(_queries.List(null, sort).Select(s => s.Name)),
                $"{sort}: {string.Join(", ", _queries.List(null, sort).Select(s => s.Name))}");
        // Ordinal, ignoring case as .NET does beyond ASCII too (SQLite's NOCASE folds ASCII only, as does PostgreSQL's upper() in the C locale): É sorts after R.
        Assert.Equal(["Alpha", "alpha two", "beta", "recording now", "élan", "Émile"], _queries.List(null, "name").Select(s => s.Name));

        foreach (var listed in _queries.List())
        {
            var got = _queries.Get(listed.Id)!;
            Assert.Equal(Summary(got), Summary(listed));
        }
        var emile = _queries.List("Émile").Single();
        Assert.Equal(["edge-1", "edge-2"], emile.Hosts.Select(h => h.HostName));
        Assert.Equal([45L, 900L], emile.Hosts.Select(h => h.Drops));
        Assert.Equal(945, emile.Drops);
        Assert.Equal(2, emile.Rows);
        Assert.Equal(["first gap", "second gap"], _queries.Get(recording)!.Gaps.Select(g => g.Why));
        Assert.Empty(_queries.Get(recording)!.Hosts);
        Assert.Equal(0, _queries.Get(recording)!.Drops);
    }

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task Search_reads_names_and_notes_and_a_missing_session_is_null(string engine)
    {
        await OpenAsync(engine);
        var id = Import("rmem fix", 1_000, 1_000, ("edge-1", 3));
        _store.SetNotes(id, "after raising net.core.rmem_max");
        Import("baseline", 1_000, 1_000);

        Assert.Equal(["rmem fix"], _queries.List("rmem_max").Select(s => s.Name));
        Assert.Equal(["rmem fix"], _queries.List("  RMEM ").Select(s => s.Name));
        Assert.Equal(2, _queries.List("   ").Count);
        Assert.Empty(_queries.List("nothing like it"));
        Assert.Null(_queries.Get(id + 100));
    }

    private long Import(string name, long startedMs, long durationMs, params (string Host, long Drops)[] hosts) =>
        _store.Import(new SessionFile(SessionFile.FormatName, 1, name, "import", startedMs, startedMs + durationMs, "",
            hosts.Select(h => new SessionFileHost($"{h.Host}-id", h.Host, "6.18.0", "tracepoint", 10, 0,
                [new DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", startedMs, h.Drops, 0x0800)],
                [], [])).ToList(),
            []));

    private static string Summary(SessionInfo s) =>
        $"{s.Id} {s.Name} {s.State} {s.Origin} {s.StartedMs} {s.StoppedMs} {s.Notes} {s.Drops} {s.Rows} " +
        string.Join(";", s.Hosts) + " | " + string.Join(";", s.Gaps);
}
