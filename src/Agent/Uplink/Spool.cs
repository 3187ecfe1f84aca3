using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using DropBoard.Shared.Contracts;
using static Tmds.Linux.LibC;

namespace DropBoard.Agent.Uplink;

/// <summary>A batch waiting to be acknowledged by the server, with the hello of the agent that made it.</summary>
public sealed record SpoolEntry(AgentHello Hello, AgentBatch Batch)
{
    public byte[] ToBytes() => JsonSerializer.SerializeToUtf8Bytes(this, SpoolJson.Default.SpoolEntry);

    /// <exception cref="JsonException">Not a whole entry (cut short, or JSON of something else).</exception>
    public static SpoolEntry FromBytes(byte[] bytes) =>
        JsonSerializer.Deserialize(bytes, SpoolJson.Default.SpoolEntry) is { Hello: not null, Batch: { Drops: not null, Counters: not null, Samples: not null } } entry
            ? entry
            : throw new JsonException("not a spooled batch: its hello or batch is missing");
}

/// <summary>The spool holds <c>maxBatches</c> already: it takes no more until the server has some.</summary>
public sealed class SpoolFullException(string directory, int maxBatches)
    : IOException($"{directory} holds --spool-max {maxBatches} batches already");

/// <summary>
/// Batches on disk until the server has them: one file per batch, named so that name order is send order.
/// A file is written under a temporary name, flushed to the disk, renamed, and the rename flushed too, so a power
/// cut leaves either a whole batch or none under a batch's name. Bounded: past <c>maxBatches</c>
/// <see cref="Append"/> refuses (<see cref="SpoolFullException"/>) rather than lose a batch already kept.
/// An unreadable file (damaged on disk, written by something else, or one the agent may not read) is moved aside and
/// reported, and the rest still go out. Not thread-safe: <see cref="Outbox"/> serialises its callers.
/// </summary>
public sealed class Spool
{
    private readonly int _maxBatches;
    private readonly List<string> _problems = [];
    /// <summary>Unreadable files that could not be moved aside either: said once, then left out of the send order.</summary>
    private readonly HashSet<string> _stuck = [];
    private long _counter;

    public string Directory { get; }

    public Spool(string directory, int maxBatches)
    {
        Directory = directory;
        _maxBatches = maxBatches;
        System.IO.Directory.CreateDirectory(directory);
        // Past every name in the directory, batches kept aside (.rejected, .bad) included: a new run counts sequences
        // from 1 again, and a name reused would let its refusal overwrite the one kept from an earlier run.
        _counter = System.IO.Directory.GetFiles(directory).Select(f => long.TryParse(Path.GetFileName(f).Split('-')[0], out var n) ? n : 0).DefaultIfEmpty(0).Max();
        // A temporary file is a write that never finished (the agent died before its rename): never a batch.
        foreach (var unfinished in System.IO.Directory.GetFiles(directory, "*.json.tmp")) File.Delete(unfinished);
    }

    public int Count => Files().Length;

    /// <summary>What went wrong with spool files since the last call (unreadable ones moved aside), for the agent to say.</summary>
    public IReadOnlyList<string> TakeProblems()
    {
        var problems = _problems.ToList();
        _problems.Clear();
        return problems;
    }

    /// <summary>Keeps one batch (<see cref="SpoolEntry.ToBytes"/>) on disk, durably, after every batch kept before it; returns its file.</summary>
    /// <exception cref="IOException">The spool is full (<see cref="SpoolFullException"/>), or the disk refused the write; nothing is left behind.</exception>
    /// <exception cref="UnauthorizedAccessException">The directory may not be written.</exception>
    public string Append(long sequence, byte[] entry)
    {
        if (Count >= _maxBatches) throw new SpoolFullException(Directory, _maxBatches);
        var name = Path.Combine(Directory, $"{_counter + 1:D16}-{sequence}.json");
        var temporary = name + ".tmp";
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0))
            {
                file.Write(entry);
                file.Flush(flushToDisk: true); // the bytes reach the disk before the name says they are whole
            }
            File.Move(temporary, name);
            SyncDirectory(); // and the name reaches it before the batch counts as kept
        }
        catch
        {
            File.Delete(temporary);
            if (File.Exists(name)) File.Delete(name);
            throw;
        }
        _counter++;
        return name;
    }

    /// <summary>The oldest waiting batch and its file, or null when the spool is empty.</summary>
    public (string File, SpoolEntry Entry)? Oldest()
    {
        foreach (var file in Files())
        {
            try
            {
                return (file, SpoolEntry.FromBytes(File.ReadAllBytes(file)));
            }
            catch (Exception e) when (e is JsonException or IOException or UnauthorizedAccessException)
            {
                SetAside(file, e.Message);
            }
        }
        return null;
    }

    private void SetAside(string file, string why)
    {
        try
        {
            File.Move(file, file + ".bad", overwrite: true);
            _problems.Add($"{file}: unreadable ({why}); moved aside to {file}.bad");
        }
        catch (FileNotFoundException)
        {
            // Removed meanwhile (by hand): nothing to send, nothing to say.
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            _stuck.Add(file);
            _problems.Add($"{file}: unreadable ({why}), and could not be moved aside ({e.Message}); left out of the send order");
        }
    }

    /// <summary>
    /// Forgets an acknowledged batch. Not flushed to disk: after a power cut the batch may come back and go out
    /// again, which the server recognises as a repeat.
    /// </summary>
    public void Remove(string file) => File.Delete(file);

    /// <summary>Moves a batch the server will never take aside, out of the send order, for inspection; returns where.</summary>
    public string KeepAside(string file)
    {
        var aside = file + ".rejected";
        File.Move(file, aside, overwrite: true);
        return aside;
    }

    /// <summary>Keeps a batch that never reached the spool aside, as <see cref="KeepAside(string)"/> does a spooled one.</summary>
    public string KeepAside(long sequence, byte[] entry)
    {
        var aside = Path.Combine(Directory, $"{++_counter:D16}-{sequence}.json.rejected");
        File.WriteAllBytes(aside, entry);
        return aside;
    }

    private unsafe void SyncDirectory()
    {
        int fd;
        fixed (byte* path = Encoding.UTF8.GetBytes(Directory + '\0'))
            fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) throw new IOException($"cannot open {Directory}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastSystemError())}");
        try
        {
            if (fsync(fd) != 0) throw new IOException($"cannot flush {Directory}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastSystemError())}");
        }
        finally
        {
            close(fd);
        }
    }

    /// <summary>The batches in send order; none when the directory itself is gone (its writes fail, and say why).</summary>
    private string[] Files()
    {
        string[] files;
        try
        {
            files = System.IO.Directory.GetFiles(Directory, "*.json");
        }
        catch (DirectoryNotFoundException)
        {
            return [];
        }
        if (_stuck.Count > 0) files = files.Where(f => !_stuck.Contains(f)).ToArray();
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(SpoolEntry))]
internal sealed partial class SpoolJson : JsonSerializerContext;
