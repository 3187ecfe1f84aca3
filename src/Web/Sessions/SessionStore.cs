using System.Data.Common;
using System.Text.Json;
using Dapper;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Sessions.Import;
using DropBoard.Web.Sessions.Storage;

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
    private DbConnection? _writer;
    private PreparedWrites? _prepared;
    private readonly Dictionary<(string Site, string? Reason, ushort Protocol, uint Netns), long> _siteIds = [];
    private readonly Dictionary<(long Session, string Host), long> _hostKeys = [];
    // Host keys known to have counter texts stored: asked once per host rather than once per batch.
    private readonly HashSet<long> _hostsWithTexts = [];

    public SessionDatabase Database => database;

    /// <summary>
    /// After a session was created, stopped, imported, resumed, written to, renamed or deleted. The recorder and the pages listen,
    /// so no caller refreshes anything by hand.
    /// </summary>
    public event Action<SessionChange>? Changed;

    private void Tell(long id, SessionChangeKind kind) => Changed?.Invoke(new SessionChange(id, kind));

    /// <summary>Another replica changed a session in the shared database: told here as if done here, marked as from elsewhere.</summary>
    public void Relay(long id, SessionChangeKind kind) => Changed?.Invoke(new SessionChange(id, kind, Elsewhere: true));

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
                // A deleted host's key may be given again (the newest row's id is reused).
                _hostsWithTexts.Clear();
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
    /// Their drops are summed first (per 10 ms bucket, second and minute of each host and site) and written as one
    /// row each, with the rollups, in statements of many rows.
    /// </summary>
    /// <returns>How many (session, batch) pairs were new.</returns>
    /// <exception cref="DbException">Nothing was stored.</exception>
    public int AppendAll(IReadOnlyList<SessionWrite> writes)
    {
        var written = new HashSet<long>();
        var count = 0;
        lock (_write)
            Writing(connection =>
            {
            using var transaction = connection.BeginTransaction();
            var prepared = Prepared(connection);
            var now = Now;
            foreach (var (sessions, hello, batch, knownTexts) in writes)
                foreach (var sessionId in sessions)
                {
                    var host = HostKey(connection, transaction, sessionId, hello);
                    if (!prepared.FirstTime(transaction, host, hello.InstanceId, batch.Sequence))
                        continue;
                    AddDrops(connection, transaction, host, batch.Drops);
                    AddCounters(host, batch.Counters);
                    if (knownTexts is { Count: > 0 } && !_hostsWithTexts.Contains(host))
                    {
                        if (!connection.ExecuteScalar<bool>("SELECT EXISTS (SELECT 1 FROM counter_texts WHERE session_host = @host)", new { host }, transaction))
                            WriteCounterTexts(connection, transaction, host, knownTexts);
                        _hostsWithTexts.Add(host);
                    }
                    WriteCounterTexts(connection, transaction, host, batch.CounterTexts);
                    WriteSamples(connection, transaction, host, batch.Samples);
                    WriteFlows(connection, transaction, host, batch.Flows);
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
            prepared.Flush(transaction);
            foreach (var sessionId in written)
                connection.Execute("UPDATE sessions SET last_write_ms = @now WHERE id = @sessionId", new { sessionId, now }, transaction);
            transaction.Commit();
            return count;
            });
        foreach (var sessionId in written) Tell(sessionId, SessionChangeKind.Written);
        return count;
    }

    /// <summary>
    /// Retention: removes the 10 ms rows that start before <paramref name="bucketsBeforeMs"/> and the per-second (and per-10-second) rows
    /// before <paramref name="secondsBeforeMs"/> (the per-minute ones stay), oldest first, a slice per transaction on
    /// the writer's connection, so batches being recorded wait for one slice at most. Each session notes how far it is
    /// thinned out, so views read the rollups there; totals stay the same, since the rollups hold the same drops.
    /// </summary>
    /// <param name="bucketsBeforeMs">A whole second.</param>
    /// <param name="secondsBeforeMs">A whole minute.</param>
    /// <returns>The rows removed.</returns>
    public long Thin(long bucketsBeforeMs, long secondsBeforeMs, CancellationToken cancellationToken = default)
    {
        using var read = database.Connect();
        var sessions = read.Query<long>(
            "SELECT id FROM sessions WHERE (started_ms < @bucketsBeforeMs AND (buckets_from_ms IS NULL OR buckets_from_ms < @bucketsBeforeMs)) " +
            "OR (started_ms < @secondsBeforeMs AND (seconds_from_ms IS NULL OR seconds_from_ms < @secondsBeforeMs))",
            new { bucketsBeforeMs, secondsBeforeMs }).ToList();
        var removed = 0L;
        lock (_write)
            removed += Writing(connection => database.Engine.DropBucketsBefore(connection, bucketsBeforeMs));
        foreach (var id in sessions)
        {
            removed += ThinOut(id, "buckets", "start_ms", 1, "buckets_from_ms", bucketsBeforeMs, TimeSpan.FromMinutes(10), cancellationToken);
            removed += ThinOut(id, "seconds", "second", Rollup.SecondMs, "seconds_from_ms", secondsBeforeMs, TimeSpan.FromHours(1), cancellationToken);
            // Kept as long as the seconds (a whole minute is whole 10 s): seconds_from_ms is theirs too.
            removed += ThinOut(id, "tens", "ten", Rollup.TenSecondsMs, "seconds_from_ms", secondsBeforeMs, TimeSpan.FromHours(10), cancellationToken);
        }
        return removed;
    }

    private long ThinOut(long id, string table, string time, long unitMs, string mark, long beforeMs, TimeSpan slice, CancellationToken cancellationToken)
    {
        var removed = 0L;
        using var read = database.Connect();
        var hosts = read.Query<long>("SELECT id FROM session_hosts WHERE session_id = @id", new { id }).ToList();
        var first = read.ExecuteScalar<long?>(
            $"SELECT min({time}) FROM {table} WHERE session_host IN (SELECT id FROM session_hosts WHERE session_id = @id) AND {time} < @before",
            new { id, before = beforeMs / unitMs });
        for (var from = first ?? beforeMs / unitMs; ; from += (long)slice.TotalMilliseconds / unitMs)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var to = Math.Min(from + (long)slice.TotalMilliseconds / unitMs, beforeMs / unitMs);
            lock (_write)
                removed += Writing(connection =>
                {
                    using var transaction = connection.BeginTransaction();
                    var gone = 0L;
                    foreach (var host in hosts)
                    {
                        var rows = connection.Execute($"DELETE FROM {table} WHERE session_host = @host AND {time} >= @from AND {time} < @to", new { host, from, to }, transaction);
                        if (table == "buckets" && rows > 0)
                            connection.Execute("UPDATE session_hosts SET bucket_rows = CASE WHEN bucket_rows > @rows THEN bucket_rows - @rows ELSE 0 END WHERE id = @host", new { host, rows }, transaction);
                        gone += rows;
                    }
                    connection.Execute($"UPDATE sessions SET {mark} = @at WHERE id = @id AND started_ms < @at AND ({mark} IS NULL OR {mark} < @at)",
                        new { id, at = to * unitMs }, transaction);
                    transaction.Commit();
                    return gone;
                });
            if (to * unitMs >= beforeMs) return removed;
        }
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
                AddDrops(connection, transaction, host, h.Drops);
                AddCounters(host, h.Counters);
                WriteCounterTexts(connection, transaction, host, h.CounterTexts);
                WriteSamples(connection, transaction, host, h.Samples);
                WriteFlows(connection, transaction, host, h.Flows);
                connection.Execute("UPDATE session_hosts SET lost_records = @lost WHERE id = @host", new { host, lost = h.LostRecords }, transaction);
            }
            foreach (var g in file.Gaps)
                connection.Execute("INSERT INTO gaps VALUES (@id, @FromMs, @ToMs, @Why)", new { id, g.FromMs, g.ToMs, g.Why }, transaction);
            Prepared(connection).Flush(transaction);
            transaction.Commit();
            return id;
            });
        Tell(imported, SessionChangeKind.Imported);
        return imported;
    }

    // Ids cached during a transaction that failed may not exist: forget them, and the connection with them.
    private T Writing<T>(Func<DbConnection, T> write)
    {
        try
        {
            var writer = _writer ??= WriterConnection();
            var result = write(writer);
            database.Engine.Written(writer);
            return result;
        }
        catch (Exception e)
        {
            _siteIds.Clear();
            _hostKeys.Clear();
            _hostsWithTexts.Clear();
            database.Engine.Forget(e);
            _prepared?.Dispose();
            _prepared = null;
            _writer?.Dispose();
            _writer = null;
            throw;
        }
    }

    /// <summary>
    /// Waits for another writer (a script, a backup) at most <see cref="WriterBusyTimeout"/>: the batches waiting are
    /// better answered "retry" than held past the hub's acknowledgement wait.
    /// </summary>
    private DbConnection WriterConnection() => database.Engine.ConnectWriter((int)WriterBusyTimeout.TotalSeconds);

    public static readonly TimeSpan WriterBusyTimeout = TimeSpan.FromSeconds(2);

    private long HostKey(DbConnection connection, DbTransaction transaction, long sessionId, AgentHello hello)
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

    private PreparedWrites Prepared(DbConnection connection) => _prepared ??= new PreparedWrites(connection, database.Engine, new DropSums());

    private void AddDrops(DbConnection connection, DbTransaction transaction, long host, IReadOnlyList<DropBucket> drops)
    {
        var prepared = Prepared(connection);
        foreach (var d in drops) prepared.Drops.Add(host, SiteId(connection, transaction, d), d.StartMs, d.Count);
    }

    private void AddCounters(long host, IReadOnlyList<CounterDelta> counters)
    {
        foreach (var c in counters) _prepared!.Counters.Add((host, c));
    }

    /// <summary>
    /// The hot-path statements, prepared once on the writer connection, and what a transaction has to write with them:
    /// drops summed per bucket, second, 10 seconds and minute, counter rises. <see cref="Flush"/> writes them.
    /// </summary>
    private sealed class PreparedWrites(DbConnection connection, StoreEngine engine, DropSums drops) : IDisposable
    {
        public DropSums Drops => drops;
        public List<(long Host, CounterDelta Counter)> Counters { get; } = [];

        // A bucket can arrive in parts (late records, a batch resent under another instance): parts add up. So do rollups
        // across transactions.
        // The 10 ms rows come back as stored: a host's rows are counted as they are made, not as drops add to them.
        private readonly IRowWriter<DropRow> _buckets = DropRows(connection, engine, "buckets", "start_ms", drops.Stored);
        private readonly IRowWriter<DropRow> _seconds = DropRows(connection, engine, "seconds", "second");
        private readonly IRowWriter<DropRow> _tens = DropRows(connection, engine, "tens", "ten");
        private readonly IRowWriter<DropRow> _minutes = DropRows(connection, engine, "minutes", "minute");
        private readonly IRowWriter<(long Host, CounterDelta Counter)> _counters = engine.Rows<(long Host, CounterDelta Counter)>(connection,
            "INSERT INTO counters (session_host, name, at_ms, delta, netns)", 5, "", (row, values) =>
            {
                values.Add(row.Host);
                values.Add(row.Counter.Name);
                values.Add(row.Counter.AtMs);
                values.Add(row.Counter.Delta);
                values.Add(row.Counter.Netns);
            });
        private readonly IRowWriter<(long Host, string Instance, long Sequence)> _seen = engine.Rows<(long Host, string Instance, long Sequence)>(connection,
            "INSERT INTO batches_seen (session_host, instance_id, sequence)", 3, "ON CONFLICT DO NOTHING", (row, values) =>
            {
                values.Add(row.Host);
                values.Add(row.Instance);
                values.Add(row.Sequence);
            });
        private readonly DbCommand _totals = Command(connection, "UPDATE session_hosts SET drops = drops + @drops, bucket_rows = bucket_rows + @rows WHERE id = @host");

        private static IRowWriter<DropRow> DropRows(DbConnection connection, StoreEngine engine, string table, string time, Action<DropRow>? stored = null) =>
            engine.DropRows(connection, table, time, stored) ?? engine.Rows<DropRow>(connection,
                $"INSERT INTO {table} (session_host, {time}, site, count)", 4,
                $"ON CONFLICT (session_host, {time}, site) DO UPDATE SET count = {table}.count + excluded.count", (row, values) =>
                {
                    values.Add(row.Host);
                    values.Add(row.At);
                    values.Add(row.Site);
                    values.Add(row.Count);
                });

        private static DbCommand Command(DbConnection connection, string sql)
        {
            var command = connection.CreateCommand();
            command.CommandText = sql;
            foreach (var name in System.Text.RegularExpressions.Regex.Matches(sql, @"@\w+").Select(m => m.Value).Distinct())
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = name;
                command.Parameters.Add(parameter);
            }
            return command;
        }

        /// <summary>Marks the batch as recorded for the host; false when it was already.</summary>
        public bool FirstTime(DbTransaction transaction, long host, string instance, long sequence) => _seen.Write(transaction, [(host, instance, sequence)]) == 1;

        public void Flush(DbTransaction transaction)
        {
            if (!Drops.IsEmpty)
            {
                var buckets = Drops.Rows(Resolution.Bucket);
                engine.BeforeBuckets(connection, transaction, buckets);
                _buckets.Write(transaction, buckets);
                _seconds.Write(transaction, Drops.Rows(Resolution.Second));
                _tens.Write(transaction, Drops.Rows(Resolution.TenSeconds));
                _minutes.Write(transaction, Drops.Rows(Resolution.Minute));
                _totals.Transaction = transaction;
                foreach (var (host, drops, rows) in Drops.Hosts)
                {
                    _totals.Parameters[0].Value = drops;
                    _totals.Parameters[1].Value = rows;
                    _totals.Parameters[2].Value = host;
                    _totals.ExecuteNonQuery();
                }
                Drops.Clear();
            }
            if (Counters.Count > 0)
            {
                _counters.Write(transaction, Counters);
                Counters.Clear();
            }
        }

        public void Dispose()
        {
            foreach (var insert in new IDisposable[] { _buckets, _seconds, _tens, _minutes, _counters, _seen, _totals }) insert.Dispose();
        }
    }

    private long SiteId(DbConnection connection, DbTransaction transaction, DropBucket d)
    {
        var key = (d.Site, d.Reason, d.Protocol, d.Netns);
        if (_siteIds.TryGetValue(key, out var id)) return id;
        var site = new { d.Site, d.Function, d.Reason, Protocol = (int)d.Protocol, Netns = (long)d.Netns, d.NetnsName };
        // Looked up first: UNIQUE does not hold a NULL reason to one row, so inserting "unless there" would add one each start.
        id = connection.ExecuteScalar<long?>("SELECT min(id) FROM sites WHERE site = @Site AND reason IS NOT DISTINCT FROM @Reason AND protocol = @Protocol AND netns = @Netns", site, transaction)
             ?? connection.ExecuteScalar<long>("INSERT INTO sites (site, function, reason, protocol, netns, netns_name) VALUES (@Site, @Function, @Reason, @Protocol, @Netns, @NetnsName) RETURNING id", site, transaction);
        return _siteIds[key] = id;
    }

    /// <summary>
    /// The latest text of each counter; a name not yet stored is taken while the host has fewer than
    /// <see cref="ImportLimits.MaxCounterTextsPerHost"/>, so rules that churn for days cannot grow a session without bound.
    /// </summary>
    private static void WriteCounterTexts(DbConnection connection, DbTransaction transaction, long host, IReadOnlyDictionary<string, string>? texts)
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

    /// <summary>
    /// Adds a batch's (or a file's) flow sites and flows. A site not yet stored is taken while the host has fewer than
    /// <see cref="ImportLimits.MaxFlowSitesPerHost"/>, else its drops are added to <see cref="FlowSitesPastBound"/>, so
    /// they are still said; a flow while its site has fewer than <see cref="ImportLimits.MaxFlowsPerSite"/>.
    /// </summary>
    private static void WriteFlows(DbConnection connection, DbTransaction transaction, long host, IReadOnlyList<FlowSite>? sites)
    {
        if (sites is null || sites.Count == 0) return;
        foreach (var s in sites)
        {
            var known = connection.ExecuteScalar<bool>("SELECT EXISTS (SELECT 1 FROM flow_sites WHERE session_host = @host AND site = @Site AND netns = @netns)",
                new { host, s.Site, netns = (long)s.Netns }, transaction);
            var site = known || connection.ExecuteScalar<long>("SELECT count(*) FROM flow_sites WHERE session_host = @host", new { host }, transaction) < ImportLimits.MaxFlowSitesPerHost
                ? s
                : new FlowSite(FlowSitesPastBound, FlowSitesPastBoundFunction, s.Sampled, s.NotSampled, []);
            connection.Execute(
                """
                INSERT INTO flow_sites VALUES (@host, @Site, @Function, @netns, @NetnsName, @Sampled, @NotSampled)
                ON CONFLICT (session_host, site, netns) DO UPDATE SET sampled = flow_sites.sampled + excluded.sampled,
                    not_sampled = flow_sites.not_sampled + excluded.not_sampled, netns_name = coalesce(excluded.netns_name, flow_sites.netns_name)
                """, new { host, site.Site, site.Function, netns = (long)site.Netns, site.NetnsName, site.Sampled, site.NotSampled }, transaction);
            connection.Execute(
                """
                INSERT INTO flows SELECT @host, @site, @netns, @IpProtocol, @Source, @SourcePort, @Destination, @DestinationPort, @Ifindex, @Count
                WHERE EXISTS (SELECT 1 FROM flows WHERE session_host = @host AND site = @site AND netns = @netns AND ip_protocol = @IpProtocol AND source = @Source
                                  AND source_port = @SourcePort AND destination = @Destination AND destination_port = @DestinationPort AND ifindex = @Ifindex)
                   OR (SELECT count(*) FROM flows WHERE session_host = @host AND site = @site AND netns = @netns) < @max
                ON CONFLICT (session_host, site, netns, ip_protocol, source, source_port, destination, destination_port, ifindex)
                    DO UPDATE SET count = flows.count + excluded.count
                """, site.Top.Select(f => new
                {
                    host, site = site.Site, netns = (long)site.Netns, IpProtocol = (int)f.IpProtocol, f.Source, SourcePort = (int)f.SourcePort, f.Destination,
                    DestinationPort = (int)f.DestinationPort, f.Ifindex, f.Count, max = ImportLimits.MaxFlowsPerSite,
                }), transaction);
        }
    }

    /// <summary>Where the drops of flow sites past a host's bound are added up: a site that names what it is.</summary>
    public const string FlowSitesPastBoundFunction = "flow_sites", FlowSitesPastBound = "flow_sites (past the bound of a session host)";

    private static void WriteSamples(DbConnection connection, DbTransaction transaction, long host, IReadOnlyList<DropSample> samples)
    {
        if (samples.Count == 0) return;
        var room = MaxSamplesPerHost - connection.ExecuteScalar<long>("SELECT count(*) FROM samples WHERE session_host = @host", new { host }, transaction);
        connection.Execute("INSERT INTO samples VALUES (@host, @TimestampNs, @Site, @Function, @Reason, @Protocol, @InPort, @OriginalLength, @Header)",
            samples.Take((int)Math.Max(0, room)).Select(s => new { host, s.TimestampNs, s.Site, s.Function, s.Reason, Protocol = (int)s.Protocol, s.InPort, s.OriginalLength, s.Header }),
            transaction);
    }
}
