using System.Text.Json;
using Dapper;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Sessions.Import;
using Microsoft.Data.Sqlite;

namespace DropBoard.Web.Sessions;

/// <summary>
/// Writes and reads capture sessions. Writes go through one connection in one transaction per batch, with
/// prepared statements (the recording hot path); reads use pooled connections and Dapper.
/// </summary>
public sealed class SessionStore(SessionDatabase database, TimeProvider clock, SessionLimits? limits = null)
{
    private readonly SessionLimits _limits = limits ?? new SessionLimits();

    private const int MaxSamplesPerHost = 10_000;
    private readonly Lock _write = new();
    private SqliteConnection? _writer;
    private PreparedWrites? _prepared;
    private readonly Dictionary<(string Site, string? Reason, ushort Protocol, uint Netns), long> _siteIds = [];
    private readonly Dictionary<(long Session, string Host), long> _hostKeys = [];

    public SessionDatabase Database => database;

    /// <summary>
    /// After a session was created, stopped, imported, resumed, written to, renamed or deleted. The recorder and the pages listen,
    /// so no caller refreshes anything by hand.
    /// </summary>
    public event Action<SessionChange>? Changed;

    private void Tell(long id, SessionChangeKind kind) => Changed?.Invoke(new SessionChange(id, kind));

    private long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <exception cref="SessionLimitException">The name is unusable, or as many sessions as allowed are recording already.</exception>
    public long Create(string name, IReadOnlyList<string>? hosts)
    {
        if (SessionLimits.NameProblem(name) is { } problem) throw new SessionLimitException(problem);
        if (hosts is { Count: > 64 } || hosts?.Any(h => h.Length is 0 or > 256) == true)
            throw new SessionLimitException("a session names at most 64 hosts, each 1 to 256 characters");
        using var connection = database.Connect();
        using var transaction = connection.BeginTransaction();
        var recording = connection.ExecuteScalar<long>("SELECT count(*) FROM sessions WHERE state = @recording", new { recording = SessionStates.Recording }, transaction);
        if (recording >= _limits.MaxRecording)
            throw new SessionLimitException($"{recording} sessions are recording already, the most DropBoard:MaxRecordingSessions allows ({_limits.MaxRecording}): stop one first");
        var id = connection.ExecuteScalar<long>(
            "INSERT INTO sessions (name, state, origin, hosts, started_ms, last_write_ms) VALUES (@name, @state, 'live', @hosts, @now, @now) RETURNING id",
            new { name, state = SessionStates.Recording, hosts = hosts is { Count: > 0 } ? JsonSerializer.Serialize(hosts) : null, now = Now }, transaction);
        transaction.Commit();
        Tell(id, SessionChangeKind.Started);
        return id;
    }

    /// <returns>False when there is no such session or it was not recording.</returns>
    public bool Stop(long id)
    {
        using var connection = database.Connect();
        var stopped = connection.Execute("UPDATE sessions SET state = @stopped, stopped_ms = @now WHERE id = @id AND state = @recording",
            new { id, now = Now, stopped = SessionStates.Stopped, recording = SessionStates.Recording }) == 1;
        if (stopped) Tell(id, SessionChangeKind.Stopped);
        return stopped;
    }

    /// <returns>False when there is no such session.</returns>
    /// <exception cref="SessionLimitException">The name is unusable.</exception>
    public bool Rename(long id, string name)
    {
        if (SessionLimits.NameProblem(name) is { } problem) throw new SessionLimitException(problem);
        using var connection = database.Connect();
        var renamed = connection.Execute("UPDATE sessions SET name = @name WHERE id = @id", new { id, name }) == 1;
        if (renamed) Tell(id, SessionChangeKind.Renamed);
        return renamed;
    }

    /// <summary>
    /// Deletes a stopped session and everything recorded in it, in one transaction. On the writer's connection and
    /// lock, so no batch is half written into it and the host keys cached for it go with it.
    /// </summary>
    public SessionDeletion Delete(long id)
    {
        SessionDeletion deletion;
        lock (_write)
            deletion = Writing(connection =>
            {
                using var transaction = connection.BeginTransaction();
                var state = connection.ExecuteScalar<string?>("SELECT state FROM sessions WHERE id = @id", new { id }, transaction);
                if (state is null) return SessionDeletion.Missing;
                if (state == SessionStates.Recording) return SessionDeletion.Recording;
                // batches_seen has no foreign key: left behind, its rows would make a later host given the same row id skip batches.
                connection.Execute("DELETE FROM batches_seen WHERE session_host IN (SELECT id FROM session_hosts WHERE session_id = @id)", new { id }, transaction);
                // The rest goes by ON DELETE CASCADE: session_hosts (and their buckets, seconds, counters, samples), gaps.
                connection.Execute("DELETE FROM sessions WHERE id = @id", new { id }, transaction);
                transaction.Commit();
                foreach (var key in _hostKeys.Keys.Where(k => k.Session == id).ToList()) _hostKeys.Remove(key);
                return SessionDeletion.Deleted;
            });
        if (deletion == SessionDeletion.Deleted) Tell(id, SessionChangeKind.Deleted);
        return deletion;
    }

    public void SetNotes(long id, string notes)
    {
        using var connection = database.Connect();
        connection.Execute("UPDATE sessions SET notes = @notes WHERE id = @id", new { id, notes });
    }

    /// <summary>Sessions recording now, with the hosts each records (null = all).</summary>
    public IReadOnlyList<(long Id, HashSet<string>? Hosts)> Recording()
    {
        using var connection = database.Connect();
        return connection.Query<(long Id, string? Hosts)>("SELECT id, hosts FROM sessions WHERE state = @recording", new { recording = SessionStates.Recording })
            .Select(r => (r.Id, r.Hosts is null ? null : JsonSerializer.Deserialize<string[]>(r.Hosts)!.ToHashSet(StringComparer.Ordinal)))
            .ToList();
    }

    /// <summary>
    /// At start-up: sessions still recording were interrupted by a restart. They go on recording; the time
    /// between their last write and now is marked as a gap.
    /// </summary>
    public int MarkRestartGaps()
    {
        using var connection = database.Connect();
        return connection.Execute(
            "INSERT INTO gaps (session_id, from_ms, to_ms, why) SELECT id, last_write_ms, @now, 'dashboard restarted' FROM sessions WHERE state = @recording AND last_write_ms < @now",
            new { now = Now, recording = SessionStates.Recording });
    }

    /// <summary>Records one batch into one session. Returns false when that batch was already recorded.</summary>
    public bool Append(long sessionId, AgentHello hello, AgentBatch batch) =>
        AppendAll([new SessionWrite([sessionId], hello, batch)]) == 1;

    /// <summary>
    /// Records batches into the sessions each names, all in one transaction: all of them are stored or, when it
    /// fails (locked past the busy timeout, disk full, I/O error), none. A batch a session already has is skipped.
    /// </summary>
    /// <returns>How many (session, batch) pairs were new.</returns>
    /// <exception cref="SqliteException">Nothing was stored.</exception>
    public int AppendAll(IReadOnlyList<SessionWrite> writes)
    {
        var written = new HashSet<long>();
        var count = 0;
        lock (_write)
            Writing(connection =>
            {
            using var transaction = connection.BeginTransaction();
            var now = Now;
            foreach (var (sessions, hello, batch, knownTexts) in writes)
                foreach (var sessionId in sessions)
                {
                    var host = HostKey(connection, transaction, sessionId, hello);
                    if (connection.Execute("INSERT OR IGNORE INTO batches_seen VALUES (@host, @instance, @sequence)",
                            new { host, instance = hello.InstanceId, sequence = batch.Sequence }, transaction) == 0)
                        continue;
                    WriteDrops(connection, transaction, host, batch.Drops);
                    WriteCounters(connection, transaction, host, batch.Counters);
                    if (knownTexts is { Count: > 0 } && !connection.ExecuteScalar<bool>("SELECT EXISTS (SELECT 1 FROM counter_texts WHERE session_host = @host)", new { host }, transaction))
                        WriteCounterTexts(connection, transaction, host, knownTexts);
                    WriteCounterTexts(connection, transaction, host, batch.CounterTexts);
                    WriteSamples(connection, transaction, host, batch.Samples);
                    if (batch.LostRecords > 0)
                        connection.Execute("UPDATE session_hosts SET lost_records = lost_records + @lost WHERE id = @host", new { host, lost = batch.LostRecords }, transaction);
                    // Batches the agent itself had to throw away (its spool and memory full) are named where they are missing.
                    if (batch.BatchesDiscarded > 0)
                        connection.Execute("INSERT INTO gaps VALUES (@sessionId, @at, @at, @why)", new
                        {
                            sessionId, at = batch.SentAtMs,
                            why = $"{hello.HostName}'s agent discarded {batch.BatchesDiscarded:N0} batches holding {batch.DropsDiscarded:N0} drops before this time: " +
                                  $"its spool could not keep them ({batch.SpoolProblem ?? "spool full"}) and its memory backlog was full",
                        }, transaction);
                    written.Add(sessionId);
                    count++;
                }
            foreach (var sessionId in written)
                connection.Execute("UPDATE sessions SET last_write_ms = @now WHERE id = @sessionId", new { sessionId, now }, transaction);
            transaction.Commit();
            return count;
            });
        foreach (var sessionId in written) Tell(sessionId, SessionChangeKind.Written);
        return count;
    }

    /// <summary>Marks a stretch of a session that has no data, and why (the dashboard was down, batches could not be stored).</summary>
    public void MarkGap(long sessionId, long fromMs, long toMs, string why)
    {
        using var connection = database.Connect();
        connection.Execute("INSERT INTO gaps VALUES (@sessionId, @fromMs, @toMs, @why)", new { sessionId, fromMs, toMs, why });
        Tell(sessionId, SessionChangeKind.Written);
    }

    /// <summary>A whole session at once (import): one transaction, all or nothing.</summary>
    public long Import(SessionFile file)
    {
        long imported;
        lock (_write)
            imported = Writing(connection =>
            {
            using var transaction = connection.BeginTransaction();
            var id = connection.ExecuteScalar<long>(
                "INSERT INTO sessions (name, state, origin, started_ms, stopped_ms, last_write_ms, notes) VALUES (@Name, @state, @Origin, @StartedMs, @StoppedMs, @StoppedMs, @Notes) RETURNING id",
                new { file.Name, state = SessionStates.Stopped, file.Origin, file.StartedMs, StoppedMs = file.StoppedMs ?? file.StartedMs, file.Notes }, transaction);
            foreach (var h in file.Hosts)
            {
                var host = HostKey(connection, transaction, id, new AgentHello(h.HostId, h.HostName, h.Kernel, h.Source, "import", h.BucketMs));
                WriteDrops(connection, transaction, host, h.Drops);
                WriteCounters(connection, transaction, host, h.Counters);
                WriteCounterTexts(connection, transaction, host, h.CounterTexts);
                WriteSamples(connection, transaction, host, h.Samples);
                connection.Execute("UPDATE session_hosts SET lost_records = @lost WHERE id = @host", new { host, lost = h.LostRecords }, transaction);
            }
            foreach (var g in file.Gaps)
                connection.Execute("INSERT INTO gaps VALUES (@id, @FromMs, @ToMs, @Why)", new { id, g.FromMs, g.ToMs, g.Why }, transaction);
            transaction.Commit();
            return id;
            });
        Tell(imported, SessionChangeKind.Imported);
        return imported;
    }

    // Ids cached during a transaction that failed may not exist: forget them, and the connection with them.
    private T Writing<T>(Func<SqliteConnection, T> write)
    {
        try
        {
            return write(_writer ??= WriterConnection());
        }
        catch
        {
            _siteIds.Clear();
            _hostKeys.Clear();
            _writer?.Dispose();
            _writer = null;
            _prepared = null;
            throw;
        }
    }

    /// <summary>
    /// Waits for another writer (a script, a backup) at most <see cref="WriterBusyTimeout"/>: the batches waiting are
    /// better answered "retry" than held past the hub's acknowledgement wait.
    /// </summary>
    private SqliteConnection WriterConnection() => database.Connect((int)WriterBusyTimeout.TotalSeconds);

    public static readonly TimeSpan WriterBusyTimeout = TimeSpan.FromSeconds(2);

    private long HostKey(SqliteConnection connection, SqliteTransaction transaction, long sessionId, AgentHello hello)
    {
        if (_hostKeys.TryGetValue((sessionId, hello.HostId), out var key)) return key;
        connection.Execute(
            """
            INSERT INTO session_hosts (session_id, host_id, host_name, kernel, source, bucket_ms) VALUES (@sessionId, @HostId, @HostName, @KernelRelease, @Source, @BucketMs)
            ON CONFLICT (session_id, host_id) DO UPDATE SET host_name = excluded.host_name, kernel = excluded.kernel, source = excluded.source
            """, new { sessionId, hello.HostId, hello.HostName, hello.KernelRelease, hello.Source, hello.BucketMs }, transaction);
        key = connection.ExecuteScalar<long>("SELECT id FROM session_hosts WHERE session_id = @sessionId AND host_id = @HostId", new { sessionId, hello.HostId }, transaction);
        _hostKeys[(sessionId, hello.HostId)] = key;
        return key;
    }

    private void WriteDrops(SqliteConnection connection, SqliteTransaction transaction, long host, IReadOnlyList<DropBucket> drops)
    {
        if (drops.Count == 0) return;
        var writes = _prepared ??= new PreparedWrites(connection);
        writes.Begin(transaction, host);
        var seconds = new Dictionary<(long Site, long Second), long>();
        foreach (var d in drops)
        {
            var site = SiteId(connection, transaction, d);
            writes.Bucket(site, d.StartMs, d.Count);
            var second = Math.DivRem(d.StartMs, 1000, out var rem) - (rem < 0 ? 1 : 0);
            seconds[(site, second)] = seconds.GetValueOrDefault((site, second)) + d.Count;
        }
        foreach (var ((site, second), count) in seconds)
            writes.Second(site, second, count);
        writes.Totals(drops.Sum(d => d.Count), drops.Count);
    }

    /// <summary>The hot-path statements, prepared once on the writer connection.</summary>
    private sealed class PreparedWrites(SqliteConnection connection)
    {
        // A bucket can arrive in parts (late records): parts add up.
        private readonly Statement _bucket = new(connection, "INSERT INTO buckets VALUES ($host, $start, $site, $count) ON CONFLICT DO UPDATE SET count = count + excluded.count");
        private readonly Statement _second = new(connection, "INSERT INTO seconds VALUES ($host, $second, $site, $count) ON CONFLICT DO UPDATE SET count = count + excluded.count");
        private readonly Statement _totals = new(connection, "UPDATE session_hosts SET drops = drops + $drops, bucket_rows = bucket_rows + $rows WHERE id = $host");
        private long _host;

        public void Begin(SqliteTransaction transaction, long host)
        {
            _bucket.Command.Transaction = _second.Command.Transaction = _totals.Command.Transaction = transaction;
            _host = host;
        }

        public void Bucket(long site, long startMs, long count) => _bucket.Run(_host, startMs, site, count);

        public void Second(long site, long second, long count) => _second.Run(_host, second, site, count);

        public void Totals(long drops, long rows) => _totals.Run(drops, rows, _host);

        /// <summary>A statement whose parameters, in order of appearance, are all integers.</summary>
        private sealed class Statement
        {
            public SqliteCommand Command { get; }
            private readonly SqliteParameter[] _parameters;

            public Statement(SqliteConnection connection, string sql)
            {
                Command = connection.CreateCommand();
                Command.CommandText = sql;
                _parameters = System.Text.RegularExpressions.Regex.Matches(sql, @"\$\w+").Select(m => m.Value).Distinct()
                    .Select(name => Command.Parameters.Add(name, SqliteType.Integer)).ToArray();
            }

            public void Run(params long[] values)
            {
                for (var i = 0; i < values.Length; i++) _parameters[i].Value = values[i];
                Command.ExecuteNonQuery();
            }
        }
    }

    private long SiteId(SqliteConnection connection, SqliteTransaction transaction, DropBucket d)
    {
        var key = (d.Site, d.Reason, d.Protocol, d.Netns);
        if (_siteIds.TryGetValue(key, out var id)) return id;
        connection.Execute("INSERT OR IGNORE INTO sites (site, function, reason, protocol, netns, netns_name) VALUES (@Site, @Function, @Reason, @Protocol, @Netns, @NetnsName)",
            new { d.Site, d.Function, d.Reason, Protocol = (int)d.Protocol, Netns = (long)d.Netns, d.NetnsName }, transaction);
        id = connection.ExecuteScalar<long>("SELECT id FROM sites WHERE site = @Site AND reason IS @Reason AND protocol = @Protocol AND netns = @Netns",
            new { d.Site, d.Reason, Protocol = (int)d.Protocol, Netns = (long)d.Netns }, transaction);
        return _siteIds[key] = id;
    }

    private static void WriteCounters(SqliteConnection connection, SqliteTransaction transaction, long host, IReadOnlyList<CounterDelta> counters)
    {
        if (counters.Count > 0)
            connection.Execute("INSERT INTO counters (session_host, name, at_ms, delta, netns) VALUES (@host, @Name, @AtMs, @Delta, @Netns)",
                counters.Select(c => new { host, c.Name, c.AtMs, c.Delta, Netns = (long)c.Netns }), transaction);
    }

    /// <summary>
    /// The latest text of each counter; a name not yet stored is taken while the host has fewer than
    /// <see cref="ImportLimits.MaxCounterTextsPerHost"/>, so rules that churn for days cannot grow a session without bound.
    /// </summary>
    private static void WriteCounterTexts(SqliteConnection connection, SqliteTransaction transaction, long host, IReadOnlyDictionary<string, string>? texts)
    {
        if (texts is null || texts.Count == 0) return;
        connection.Execute(
            """
            INSERT INTO counter_texts SELECT @host, @Key, @Value
            WHERE EXISTS (SELECT 1 FROM counter_texts WHERE session_host = @host AND name = @Key)
               OR (SELECT count(*) FROM counter_texts WHERE session_host = @host) < @max
            ON CONFLICT (session_host, name) DO UPDATE SET text = excluded.text
            """, texts.Select(t => new { host, t.Key, t.Value, max = ImportLimits.MaxCounterTextsPerHost }), transaction);
    }

    private static void WriteSamples(SqliteConnection connection, SqliteTransaction transaction, long host, IReadOnlyList<DropSample> samples)
    {
        if (samples.Count == 0) return;
        var room = MaxSamplesPerHost - connection.ExecuteScalar<long>("SELECT count(*) FROM samples WHERE session_host = @host", new { host }, transaction);
        connection.Execute("INSERT INTO samples VALUES (@host, @TimestampNs, @Site, @Function, @Reason, @Protocol, @InPort, @OriginalLength, @Header)",
            samples.Take((int)Math.Max(0, room)).Select(s => new { host, s.TimestampNs, s.Site, s.Function, s.Reason, Protocol = (int)s.Protocol, s.InPort, s.OriginalLength, s.Header }),
            transaction);
    }
}
