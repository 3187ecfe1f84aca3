using System.Text.Json.Serialization;
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

    /// <summary>
    /// False when a host's source printed no times (a <c>dropwatch</c> terminal): the start is the import time,
    /// the drops are counts without times, and there are no bursts or lead/lag to find in them.
    /// </summary>
    public bool HasTimestamps => Hosts.All(h => SessionSources.HasTimestamps(h.Source));

    /// <summary>
    /// The length rates may be computed from: the recorded one, or for a source without timestamps the one its
    /// importer gave (null when none was given).
    /// </summary>
    public long? KnownDurationMs(long nowMs) => HasTimestamps || StoppedMs > StartedMs ? DurationMs(nowMs) : null;
}

/// <summary>Where a session host's drops came from, as far as times are concerned.</summary>
public static class SessionSources
{
    /// <summary>A <c>dropwatch</c> terminal: counts per site, in the order printed, without a time.</summary>
    public const string Dropwatch = "dropwatch";

    public static bool HasTimestamps(string source) => source != Dropwatch;
}

public static class SessionStates
{
    public const string Recording = "recording", Stopped = "stopped";
}

public sealed record SessionHost(string HostId, string HostName, string Kernel, string Source, int BucketMs, long LostRecords, long Drops);

/// <summary>A session's dropped flows: the most dropped sites with their top flows, and the drops sampled and not over all sites.</summary>
public sealed record SessionFlows(IReadOnlyList<FlowSite> Sites, long Sampled, long NotSampled);

/// <summary>A stretch of a recording session with no data: the dashboard was down, or batches could not be stored.</summary>
public sealed record SessionGap(long FromMs, long ToMs, string Why);

/// <summary>Drops at one site for one reason and protocol over a session (or a window of it).</summary>
public sealed record SessionSite(string Function, string Site, string? Reason, ushort Protocol, long Count, uint Netns = 0, string? NetnsName = null);

/// <summary>
/// DropBoard's own session file: what export writes and import reads, losslessly. Times are Unix ms.
/// </summary>
public sealed record SessionFile(
    string Format, int Version, string Name, string Origin, long StartedMs, long? StoppedMs, string Notes,
    IReadOnlyList<SessionFileHost> Hosts, IReadOnlyList<SessionGap> Gaps)
{
    public const string FormatName = "dropboard-session";
}

/// <param name="CounterTexts">What counters count, in words, by name (netfilter rules' texts); absent from files made before them.</param>
/// <param name="Flows">Dropped flows per (site, namespace) over the session, each site's flows most first; absent when none were sampled.</param>
public sealed record SessionFileHost(
    string HostId, string HostName, string Kernel, string Source, int BucketMs, long LostRecords,
    IReadOnlyList<DropBucket> Drops, IReadOnlyList<CounterDelta> Counters, IReadOnlyList<DropSample> Samples,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, string>? CounterTexts = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyList<FlowSite>? Flows = null);

/// <summary>One batch of one agent, to be recorded into these sessions.</summary>
/// <param name="KnownTexts">
/// The counter texts the dashboard already had of the host: an agent sends a rule's text only once, so a session that
/// starts later takes them from here.
/// </param>
public sealed record SessionWrite(IReadOnlyList<long> Sessions, AgentHello Hello, AgentBatch Batch, IReadOnlyDictionary<string, string>? KnownTexts = null);

public enum SessionChangeKind { Started, Stopped, Imported, Written, Renamed, Deleted }

/// <summary>What <see cref="SessionStore.Delete"/> did.</summary>
public enum SessionDeletion { Deleted, Missing, Recording }

/// <summary>What happened to a session, as <see cref="SessionStore.Changed"/> tells it.</summary>
/// <param name="Elsewhere">Another dashboard replica did it (<see cref="SessionStore.Relay"/>): not to be passed on again.</param>
public sealed record SessionChange(long Id, SessionChangeKind Kind, bool Elsewhere = false);
