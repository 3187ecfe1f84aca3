using System.Text.Json;
using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Hub;

/// <summary>What makes a batch from the network unacceptable, said in words. Pure, so it is tested directly.</summary>
public static class BatchCheck
{
    public const int MaxBuckets = 200_000, MaxCounters = 20_000, MaxSamples = 10_000;

    /// <summary>The start of the rejection an agent should answer by waiting and resending, not by giving up.</summary>
    public const string TooFast = "too fast";

    public sealed record Result(AgentHello? Hello, AgentBatch? Batch, string? Problem);

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static Result Read(JsonElement hello, JsonElement batch)
    {
        AgentHello? h;
        AgentBatch? b;
        try
        {
            h = hello.Deserialize<AgentHello>(Json);
        }
        catch (JsonException e)
        {
            return new Result(null, null, $"the hello is not an agent hello ({e.Message})");
        }
        try
        {
            b = batch.Deserialize<AgentBatch>(Json);
        }
        catch (JsonException e)
        {
            return new Result(h, null, $"the batch is not an agent batch ({e.Message})");
        }
        return new Result(h, b, Problem(h, b));
    }

    public static string? Problem(AgentHello? hello, AgentBatch? batch)
    {
        if (hello is null || batch is null) return "hello and batch are both required";
        if (string.IsNullOrWhiteSpace(hello.HostId) || string.IsNullOrWhiteSpace(hello.HostName)) return "hello has no host id or name";
        if (batch.HostId != hello.HostId) return $"batch is for host '{batch.HostId}' but the hello says '{hello.HostId}'";
        if (batch.Sequence < 1) return $"sequence {batch.Sequence} is not positive";
        if (batch.Drops is null || batch.Counters is null || batch.Samples is null) return "drops, counters and samples must be lists (empty is fine)";
        if (batch.Drops.Count > MaxBuckets || batch.Counters.Count > MaxCounters || batch.Samples.Count > MaxSamples)
            return $"too large: {batch.Drops.Count} buckets, {batch.Counters.Count} counters, {batch.Samples.Count} samples";
        if (batch.LostRecords < 0 || batch.SamplesSuppressed < 0) return "negative lost or suppressed count";
        foreach (var d in batch.Drops)
            if (d is null || string.IsNullOrEmpty(d.Site) || string.IsNullOrEmpty(d.Function) || d.Count <= 0)
                return $"a drop bucket has no site or a count that is not positive ({d?.Site}: {d?.Count})";
        foreach (var c in batch.Counters)
            if (c is null || string.IsNullOrEmpty(c.Name) || c.Delta < 0)
                return $"a counter delta has no name or is negative ({c?.Name}: {c?.Delta})";
        return null;
    }
}
