using System.Text.Json.Serialization;

namespace DropBoard.Shared.Contracts;

/// <summary>The agent hub as both sides see it: where it is, what it takes and what it answers.</summary>
public static class AgentHubContract
{
    public const string Path = "/hubs/agent";

    /// <summary>A batch as JSON: <see cref="IAgentHub.Batch"/>, what agents before the packed method send.</summary>
    public const string BatchMethod = nameof(IAgentHub.Batch);

    /// <summary>A batch packed: <see cref="IAgentHub.PackedBatch"/>, what agents send to a dashboard that has it.</summary>
    public const string PackedBatchMethod = nameof(IAgentHub.PackedBatch);

    /// <summary>Only the agent hub takes big messages (a batch of a drop storm).</summary>
    public const int MaxMessageBytes = 4 * 1024 * 1024;

    public const int MaxBatchesPerSecond = 40;
}

/// <summary>
/// What agents call on the hub, over SignalR's JSON protocol. The hub reads each argument leniently, so that it can answer
/// a malformed batch with what is wrong with it, instead of SignalR's generic binding error.
/// </summary>
public interface IAgentHub
{
    Task<BatchAck> Batch(AgentHello hello, AgentBatch batch);

    /// <summary>The same as <see cref="Batch"/>, the batch packed by <see cref="BatchPacking.Pack"/>.</summary>
    Task<BatchAck> PackedBatch(AgentHello hello, byte[] batch);
}

/// <summary>Why the hub did not take a batch, which tells the agent what to do with it.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<BatchRejection>))]
public enum BatchRejection
{
    /// <summary>Taken (or a repeat it already had).</summary>
    None,

    /// <summary>The batch itself is wrong and always will be: keep it aside, go on with the next.</summary>
    Malformed,

    /// <summary>More than <see cref="AgentHubContract.MaxBatchesPerSecond"/>: wait and send it again.</summary>
    TooFast,

    /// <summary>The credential may not speak for this host: every batch would be refused alike, so stop.</summary>
    Forbidden,

    /// <summary>The dashboard could not store it now: keep it and send it again later.</summary>
    Retry,
}

/// <summary>The hub's answer to a batch: taken, a repeat it already had, or refused (<see cref="Rejection"/>) and why (<see cref="Rejected"/>).</summary>
public sealed record BatchAck(long Sequence, bool Duplicate, BatchRejection Rejection = BatchRejection.None, string? Rejected = null)
{
    public static BatchAck Refused(long sequence, BatchRejection rejection, string why) => new(sequence, false, rejection, why);
}
