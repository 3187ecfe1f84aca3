using System.Text.Json;

namespace DropBoard.TestKit;

/// <summary>One batch waiting in an agent's spool, as the test reads it from its file: its sequence, its SOCKET_RCVBUFF drops, what it says was lost.</summary>
public sealed record SpooledBatch(string File, long Sequence, long RcvbufDrops, long BatchesDiscarded, string? SpoolProblem);

/// <summary>An agent's spool directory read the way a person would, with a plain JSON parser and not the agent's own code.</summary>
public static class SpoolReads
{
    /// <summary>The batches waiting in <paramref name="directory"/>; files acknowledged between the listing and the read are left out.</summary>
    public static List<SpooledBatch> Batches(string directory)
    {
        var batches = new List<SpooledBatch>();
        foreach (var file in Directory.GetFiles(directory, "*.json"))
        {
            try
            {
                using var entry = JsonDocument.Parse(File.ReadAllBytes(file));
                var batch = entry.RootElement.GetProperty("batch");
                var drops = batch.GetProperty("drops").EnumerateArray()
                    .Where(d => d.GetProperty("reason").GetString() == "SOCKET_RCVBUFF").Sum(d => d.GetProperty("count").GetInt64());
                batches.Add(new SpooledBatch(file, batch.GetProperty("sequence").GetInt64(), drops,
                    batch.TryGetProperty("batchesDiscarded", out var discarded) ? discarded.GetInt64() : 0,
                    batch.TryGetProperty("spoolProblem", out var problem) ? problem.GetString() : null));
            }
            catch (FileNotFoundException)
            {
                // Acknowledged between the listing and the read.
            }
        }
        return batches;
    }
}
