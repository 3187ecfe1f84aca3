using System.Text.Json;
using System.Text.Json.Serialization;
using DropBoard.Shared.Contracts;

namespace DropBoard.Agent.Uplink;

/// <summary>A batch waiting to be acknowledged by the server, with the hello of the agent that made it.</summary>
public sealed record SpoolEntry(AgentHello Hello, AgentBatch Batch);

/// <summary>
/// Batches on disk until the server has them: one file per batch, named so that name order is send order.
/// Bounded: past <c>maxBatches</c> the oldest are evicted, counted and reported, never silently lost.
/// An unreadable file (a crash mid-write) is moved aside and reported, and the rest still go out. Safe for one
/// thread appending while another reads and removes.
/// </summary>
public sealed class Spool
{
    private readonly string _directory;
    private readonly int _maxBatches;
    private long _counter;

    public long Evicted { get; private set; }
    private readonly List<string> _problems = [];

    /// <summary>What went wrong with spool files since the last call (unreadable ones moved aside), for the agent to say.</summary>
    public IReadOnlyList<string> TakeProblems()
    {
        var problems = _problems.ToList();
        _problems.Clear();
        return problems;
    }

    public Spool(string directory, int maxBatches)
    {
        _directory = directory;
        _maxBatches = maxBatches;
        Directory.CreateDirectory(directory);
        // Past every name in the directory, batches kept aside (.rejected, .bad) included: a new run counts sequences
        // from 1 again, and a name reused would let its refusal overwrite the one kept from an earlier run.
        _counter = Directory.GetFiles(directory).Select(f => long.TryParse(Path.GetFileName(f).Split('-')[0], out var n) ? n : 0).DefaultIfEmpty(0).Max();
    }

    public int Count => Files().Length;

    public void Append(AgentHello hello, AgentBatch batch)
    {
        var name = Path.Combine(_directory, $"{Interlocked.Increment(ref _counter):D16}-{batch.Sequence}.json");
        var temporary = name + ".tmp";
        File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(new SpoolEntry(hello, batch), SpoolJson.Default.SpoolEntry));
        File.Move(temporary, name); // whole or absent: a crash never leaves half a batch to send
        var files = Files();
        for (var i = 0; i < files.Length - _maxBatches; i++)
        {
            File.Delete(files[i]);
            Evicted++;
        }
    }

    /// <summary>The oldest waiting batch and its file, or null when the spool is empty.</summary>
    public (string File, SpoolEntry Entry)? Oldest()
    {
        foreach (var file in Files())
        {
            try
            {
                var entry = JsonSerializer.Deserialize(File.ReadAllBytes(file), SpoolJson.Default.SpoolEntry);
                if (entry is not null) return (file, entry);
            }
            catch (FileNotFoundException)
            {
                // Evicted by Append since the listing: the next one is the oldest now.
            }
            catch (JsonException e)
            {
                _problems.Add($"{file}: unreadable ({e.Message}); moved aside to {file}.bad");
                File.Move(file, file + ".bad", overwrite: true);
            }
        }
        return null;
    }

    public void Remove(string file) => File.Delete(file);

    private string[] Files()
    {
        var files = Directory.GetFiles(_directory, "*.json");
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(SpoolEntry))]
internal sealed partial class SpoolJson : JsonSerializerContext;
