using System.Formats.Cbor;

namespace DropBoard.Shared.Contracts;

/// <summary>
/// A batch as <see cref="IAgentHub.PackedBatch"/> carries it: CBOR (RFC 8949) bytes, base64 in the hub's JSON. Each
/// record is an array of its members in declaration order, so reading costs the dashboard no property names: about a
/// third of the CPU of reading the same batch from JSON, and that CPU is what bounds how many agents one dashboard holds.
/// </summary>
/// <remarks>
/// A reader takes the members it knows and skips any after them, and a member missing at the end keeps its default:
/// agents and dashboards of neighbouring versions read each other. A new member therefore goes at the end of its record.
/// </remarks>
public static class BatchPacking
{
    public static byte[] Pack(AgentBatch batch)
    {
        var w = new CborWriter();
        w.WriteStartArray(15);
        w.WriteTextString(batch.HostId);
        w.WriteInt64(batch.Sequence);
        w.WriteInt64(batch.SentAtMs);
        WriteList(w, batch.Drops, WriteBucket);
        WriteList(w, batch.Counters, WriteCounter);
        WriteList(w, batch.Samples, WriteSample);
        w.WriteInt64(batch.LostRecords);
        w.WriteInt64(batch.SamplesSuppressed);
        WriteList(w, batch.Frees, WriteBucket);
        w.WriteInt64(batch.BatchesDiscarded);
        w.WriteInt64(batch.DropsDiscarded);
        WriteText(w, batch.SpoolProblem);
        if (batch.CounterTexts is null) w.WriteNull();
        else
        {
            w.WriteStartMap(batch.CounterTexts.Count);
            foreach (var (name, text) in batch.CounterTexts)
            {
                w.WriteTextString(name);
                w.WriteTextString(text);
            }
            w.WriteEndMap();
        }
        WriteList(w, batch.Flows, WriteFlowSite);
        WriteList(w, batch.Paths, WritePathSite);
        w.WriteEndArray();
        return w.Encode();
    }

    /// <summary>The batch the bytes hold, or what is wrong with them: they come from the network, so nothing here throws.</summary>
    public static (AgentBatch? Batch, string? Problem) Unpack(ReadOnlyMemory<byte> packed)
    {
        if (packed.IsEmpty) return (null, "no packed bytes");
        var r = new CborReader(packed);
        try
        {
            var batch = ReadBatch(r);
            return r.BytesRemaining == 0 ? (batch, null) : (null, $"its packed bytes do not read as one: {r.BytesRemaining} bytes after the batch");
        }
        catch (Exception e) when (e is CborContentException or InvalidOperationException or OverflowException or FormatException or ArgumentException)
        {
            return (null, $"its packed bytes do not read as one: at byte {packed.Length - r.BytesRemaining} of {packed.Length}, {e.Message}");
        }
    }

    private static AgentBatch ReadBatch(CborReader r)
    {
        string hostId = null!;
        string? spoolProblem = null;
        long sequence = 0, sentAtMs = 0, lostRecords = 0, samplesSuppressed = 0, batchesDiscarded = 0, dropsDiscarded = 0;
        List<DropBucket>? drops = null, frees = null;
        List<CounterDelta>? counters = null;
        List<DropSample>? samples = null;
        Dictionary<string, string>? counterTexts = null;
        List<FlowSite>? flows = null;
        List<PathSite>? paths = null;
        var members = StartRecord(r);
        for (var i = 0; i < members; i++)
            switch (i)
            {
                case 0: hostId = r.ReadTextString(); break;
                case 1: sequence = r.ReadInt64(); break;
                case 2: sentAtMs = r.ReadInt64(); break;
                case 3: drops = ReadList(r, ReadBucket); break;
                case 4: counters = ReadList(r, ReadCounter); break;
                case 5: samples = ReadList(r, ReadSample); break;
                case 6: lostRecords = r.ReadInt64(); break;
                case 7: samplesSuppressed = r.ReadInt64(); break;
                case 8: frees = ReadList(r, ReadBucket); break;
                case 9: batchesDiscarded = r.ReadInt64(); break;
                case 10: dropsDiscarded = r.ReadInt64(); break;
                case 11: spoolProblem = ReadText(r); break;
                case 12: counterTexts = ReadTexts(r); break;
                case 13: flows = ReadList(r, ReadFlowSite); break;
                case 14: paths = ReadList(r, ReadPathSite); break;
                default: r.SkipValue(); break;
            }
        r.ReadEndArray();
        return new AgentBatch(hostId, sequence, sentAtMs, drops!, counters!, samples!, lostRecords, samplesSuppressed, frees,
            batchesDiscarded, dropsDiscarded, spoolProblem, counterTexts, flows, paths);
    }

    private static void WriteBucket(CborWriter w, DropBucket b)
    {
        w.WriteStartArray(8);
        w.WriteTextString(b.Site);
        w.WriteTextString(b.Function);
        WriteText(w, b.Reason);
        w.WriteInt64(b.StartMs);
        w.WriteInt64(b.Count);
        w.WriteUInt32(b.Protocol);
        w.WriteUInt32(b.Netns);
        WriteText(w, b.NetnsName);
        w.WriteEndArray();
    }

    private static DropBucket ReadBucket(CborReader r)
    {
        string site = null!, function = null!;
        string? reason = null, netnsName = null;
        long startMs = 0, count = 0;
        ushort protocol = 0;
        uint netns = 0;
        var members = StartRecord(r);
        for (var i = 0; i < members; i++)
            switch (i)
            {
                case 0: site = r.ReadTextString(); break;
                case 1: function = r.ReadTextString(); break;
                case 2: reason = ReadText(r); break;
                case 3: startMs = r.ReadInt64(); break;
                case 4: count = r.ReadInt64(); break;
                case 5: protocol = checked((ushort)r.ReadUInt32()); break;
                case 6: netns = r.ReadUInt32(); break;
                case 7: netnsName = ReadText(r); break;
                default: r.SkipValue(); break;
            }
        r.ReadEndArray();
        return new DropBucket(site, function, reason, startMs, count, protocol, netns, netnsName);
    }

    private static void WriteCounter(CborWriter w, CounterDelta c)
    {
        w.WriteStartArray(4);
        w.WriteTextString(c.Name);
        w.WriteInt64(c.Delta);
        w.WriteInt64(c.AtMs);
        w.WriteUInt32(c.Netns);
        w.WriteEndArray();
    }

    private static CounterDelta ReadCounter(CborReader r)
    {
        string name = null!;
        long delta = 0, atMs = 0;
        uint netns = 0;
        var members = StartRecord(r);
        for (var i = 0; i < members; i++)
            switch (i)
            {
                case 0: name = r.ReadTextString(); break;
                case 1: delta = r.ReadInt64(); break;
                case 2: atMs = r.ReadInt64(); break;
                case 3: netns = r.ReadUInt32(); break;
                default: r.SkipValue(); break;
            }
        r.ReadEndArray();
        return new CounterDelta(name, delta, atMs, netns);
    }

    private static void WriteSample(CborWriter w, DropSample s)
    {
        w.WriteStartArray(8);
        w.WriteInt64(s.TimestampNs);
        w.WriteTextString(s.Site);
        w.WriteTextString(s.Function);
        WriteText(w, s.Reason);
        w.WriteUInt32(s.Protocol);
        WriteText(w, s.InPort);
        w.WriteInt32(s.OriginalLength);
        if (s.Header is null) w.WriteNull();
        else w.WriteByteString(s.Header);
        w.WriteEndArray();
    }

    private static DropSample ReadSample(CborReader r)
    {
        long timestampNs = 0;
        string site = null!, function = null!;
        string? reason = null, inPort = null;
        ushort protocol = 0;
        var originalLength = 0;
        byte[]? header = null;
        var members = StartRecord(r);
        for (var i = 0; i < members; i++)
            switch (i)
            {
                case 0: timestampNs = r.ReadInt64(); break;
                case 1: site = r.ReadTextString(); break;
                case 2: function = r.ReadTextString(); break;
                case 3: reason = ReadText(r); break;
                case 4: protocol = checked((ushort)r.ReadUInt32()); break;
                case 5: inPort = ReadText(r); break;
                case 6: originalLength = r.ReadInt32(); break;
                case 7: header = ReadNull(r) ? null : r.ReadByteString(); break;
                default: r.SkipValue(); break;
            }
        r.ReadEndArray();
        return new DropSample(timestampNs, site, function, reason, protocol, inPort, originalLength, header);
    }

    private static void WriteFlowSite(CborWriter w, FlowSite s)
    {
        w.WriteStartArray(7);
        w.WriteTextString(s.Site);
        w.WriteTextString(s.Function);
        w.WriteInt64(s.Sampled);
        w.WriteInt64(s.NotSampled);
        WriteList(w, s.Top, WriteFlow);
        w.WriteUInt32(s.Netns);
        WriteText(w, s.NetnsName);
        w.WriteEndArray();
    }

    private static FlowSite ReadFlowSite(CborReader r)
    {
        string site = null!, function = null!;
        string? netnsName = null;
        long sampled = 0, notSampled = 0;
        List<DroppedFlow>? top = null;
        uint netns = 0;
        var members = StartRecord(r);
        for (var i = 0; i < members; i++)
            switch (i)
            {
                case 0: site = r.ReadTextString(); break;
                case 1: function = r.ReadTextString(); break;
                case 2: sampled = r.ReadInt64(); break;
                case 3: notSampled = r.ReadInt64(); break;
                case 4: top = ReadList(r, ReadFlow); break;
                case 5: netns = r.ReadUInt32(); break;
                case 6: netnsName = ReadText(r); break;
                default: r.SkipValue(); break;
            }
        r.ReadEndArray();
        return new FlowSite(site, function, sampled, notSampled, top!, netns, netnsName);
    }

    private static void WriteFlow(CborWriter w, DroppedFlow f)
    {
        w.WriteStartArray(7);
        w.WriteUInt32(f.IpProtocol);
        w.WriteTextString(f.Source);
        w.WriteUInt32(f.SourcePort);
        w.WriteTextString(f.Destination);
        w.WriteUInt32(f.DestinationPort);
        w.WriteInt64(f.Count);
        w.WriteInt32(f.Ifindex);
        w.WriteEndArray();
    }

    private static DroppedFlow ReadFlow(CborReader r)
    {
        byte ipProtocol = 0;
        string source = null!, destination = null!;
        ushort sourcePort = 0, destinationPort = 0;
        long count = 0;
        var ifindex = 0;
        var members = StartRecord(r);
        for (var i = 0; i < members; i++)
            switch (i)
            {
                case 0: ipProtocol = checked((byte)r.ReadUInt32()); break;
                case 1: source = r.ReadTextString(); break;
                case 2: sourcePort = checked((ushort)r.ReadUInt32()); break;
                case 3: destination = r.ReadTextString(); break;
                case 4: destinationPort = checked((ushort)r.ReadUInt32()); break;
                case 5: count = r.ReadInt64(); break;
                case 6: ifindex = r.ReadInt32(); break;
                default: r.SkipValue(); break;
            }
        r.ReadEndArray();
        return new DroppedFlow(ipProtocol, source, sourcePort, destination, destinationPort, count, ifindex);
    }

    private static void WritePathSite(CborWriter w, PathSite s)
    {
        w.WriteStartArray(7);
        w.WriteTextString(s.Site);
        w.WriteTextString(s.Function);
        w.WriteInt64(s.Drops);
        WriteList(w, s.Top, WritePath);
        w.WriteInt64(s.Other);
        w.WriteUInt32(s.Netns);
        WriteText(w, s.NetnsName);
        w.WriteEndArray();
    }

    private static PathSite ReadPathSite(CborReader r)
    {
        string site = null!, function = null!;
        string? netnsName = null;
        long drops = 0, other = 0;
        List<StackPath>? top = null;
        uint netns = 0;
        var members = StartRecord(r);
        for (var i = 0; i < members; i++)
            switch (i)
            {
                case 0: site = r.ReadTextString(); break;
                case 1: function = r.ReadTextString(); break;
                case 2: drops = r.ReadInt64(); break;
                case 3: top = ReadList(r, ReadPath); break;
                case 4: other = r.ReadInt64(); break;
                case 5: netns = r.ReadUInt32(); break;
                case 6: netnsName = ReadText(r); break;
                default: r.SkipValue(); break;
            }
        r.ReadEndArray();
        return new PathSite(site, function, drops, top!, other, netns, netnsName);
    }

    private static void WritePath(CborWriter w, StackPath p)
    {
        w.WriteStartArray(3);
        WriteList(w, p.Frames, (writer, frame) => writer.WriteTextString(frame));
        w.WriteInt64(p.Drops);
        WriteText(w, p.Missing);
        w.WriteEndArray();
    }

    private static StackPath ReadPath(CborReader r)
    {
        List<string>? frames = null;
        long drops = 0;
        string? missing = null;
        var members = StartRecord(r);
        for (var i = 0; i < members; i++)
            switch (i)
            {
                case 0: frames = ReadList(r, reader => reader.ReadTextString()); break;
                case 1: drops = r.ReadInt64(); break;
                case 2: missing = ReadText(r); break;
                default: r.SkipValue(); break;
            }
        r.ReadEndArray();
        return new StackPath(frames!, drops, missing);
    }

    private static void WriteList<T>(CborWriter w, IReadOnlyList<T>? items, Action<CborWriter, T> write)
    {
        if (items is null)
        {
            w.WriteNull();
            return;
        }
        w.WriteStartArray(items.Count);
        foreach (var item in items) write(w, item);
        w.WriteEndArray();
    }

    /// <summary>A list, or null; never sized past what the bytes left can hold (each item takes one at least).</summary>
    private static List<T>? ReadList<T>(CborReader r, Func<CborReader, T> read)
    {
        if (ReadNull(r)) return null;
        var count = r.ReadStartArray() ?? throw new CborContentException("a list of indefinite length");
        var items = new List<T>(Math.Min(count, r.BytesRemaining));
        for (var i = 0; i < count; i++) items.Add(read(r));
        r.ReadEndArray();
        return items;
    }

    private static Dictionary<string, string>? ReadTexts(CborReader r)
    {
        if (ReadNull(r)) return null;
        var count = r.ReadStartMap() ?? throw new CborContentException("a map of indefinite length");
        var texts = new Dictionary<string, string>(Math.Min(count, r.BytesRemaining / 2), StringComparer.Ordinal);
        for (var i = 0; i < count; i++)
        {
            var name = r.ReadTextString();
            if (!texts.TryAdd(name, r.ReadTextString())) throw new CborContentException($"counter text '{name}' twice");
        }
        r.ReadEndMap();
        return texts;
    }

    private static int StartRecord(CborReader r) => r.ReadStartArray() ?? throw new CborContentException("a record of indefinite length");

    private static void WriteText(CborWriter w, string? text)
    {
        if (text is null) w.WriteNull();
        else w.WriteTextString(text);
    }

    private static string? ReadText(CborReader r) => ReadNull(r) ? null : r.ReadTextString();

    private static bool ReadNull(CborReader r)
    {
        if (r.PeekState() != CborReaderState.Null) return false;
        r.ReadNull();
        return true;
    }
}
