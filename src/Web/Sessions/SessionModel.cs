using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Sessions;

/// <summary>A capture session as lists and pages show it.</summary>
public sealed record SessionInfo(
    long Id, string Name, string State, string Origin, long StartedMs, long? StoppedMs, string Notes,
    IReadOnlyList<SessionHost> Hosts, IReadOnlyList<SessionGap> Gaps, long Drops, long Rows)
{
    public bool Recording => State == SessionStates.Recording;

    /// <summary>Start to stop, or to the last write while recording.</summary>
    public long DurationMs(long nowMs) => Math.Max(1, (StoppedMs ?? nowMs) - StartedMs);
}

public static class SessionStates
{
    public const string Recording = "recording", Stopped = "stopped";
}

public sealed record SessionHost(string HostId, string HostName, string Kernel, string Source, int BucketMs, long LostRecords, long Drops);

/// <summary>A stretch of a recording session with no data: the dashboard was down, or batches could not be stored.</summary>
public sealed record SessionGap(long FromMs, long ToMs, string Why);

/// <summary>Drops at one site for one reason and protocol over a session (or a window of it).</summary>
public sealed record SessionSite(string Function, string Site, string? Reason, ushort Protocol, long Count);

/// <summary>
/// DropBoard's own session file: what export writes and import reads, losslessly. Times are Unix ms.
/// </summary>
public sealed record SessionFile(
    string Format, int Version, string Name, string Origin, long StartedMs, long? StoppedMs, string Notes,
    IReadOnlyList<SessionFileHost> Hosts, IReadOnlyList<SessionGap> Gaps)
{
    public const string FormatName = "dropboard-session";
}

public sealed record SessionFileHost(
    string HostId, string HostName, string Kernel, string Source, int BucketMs, long LostRecords,
    IReadOnlyList<DropBucket> Drops, IReadOnlyList<CounterDelta> Counters, IReadOnlyList<DropSample> Samples);

/// <summary>One batch of one agent, to be recorded into these sessions.</summary>
public sealed record SessionWrite(IReadOnlyList<long> Sessions, AgentHello Hello, AgentBatch Batch);

public enum SessionChangeKind { Started, Stopped, Imported, Written }

/// <summary>What happened to a session, as <see cref="SessionStore.Changed"/> tells it.</summary>
public sealed record SessionChange(long Id, SessionChangeKind Kind);
