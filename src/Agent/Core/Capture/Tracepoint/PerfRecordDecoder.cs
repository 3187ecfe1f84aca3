using System.Buffers.Binary;
using DropBoard.Agent.Aggregation;

namespace DropBoard.Agent.Capture.Tracepoint;

/// <summary>
/// Turns perf ring records of skb:kfree_skb (or skb:consume_skb) into aggregator counts. Pure: it sees bytes, never the kernel,
/// so it is tested on recorded rings. Bad records are counted and described, never thrown: a corrupt
/// record must not stop the capture of the good ones after it.
/// </summary>
public sealed class PerfRecordDecoder
{
    private const uint PERF_RECORD_LOST = 2, PERF_RECORD_SAMPLE = 9;
    // Sample body for TIME|CPU|RAW: u64 time, u32 cpu, u32 reserved, u32 raw size, raw bytes.
    private const int RawSizeAt = 24, RawAt = 28;

    private readonly KfreeSkbLayout _layout;
    private readonly DropAggregator _aggregator;
    private readonly long _clockOffsetNs;
    private readonly int[] _reasonIds;
    private readonly Dictionary<uint, int> _unknownReasons = [];

    // The watch (see Watch): set by the sampling thread, read and fed by the decoding thread once per DecodeAll.
    private readonly Lock _watchGate = new();
    private long _watchFromNs = long.MaxValue;
    private long _firstWatchedNs = long.MaxValue;
    // The watch as the records being decoded see it, and what they showed of it.
    private long _runFromNs = long.MaxValue, _runFirstNs = long.MaxValue, _runLastNs = long.MinValue;

    public long Samples { get; private set; }
    public long LostRecords { get; private set; }
    public long CorruptRecords { get; private set; }
    public string? LastError { get; private set; }

    /// <param name="reasonNames">Kernel enum value to name, from the format's print fmt.</param>
    /// <param name="clockOffsetNs">Added to sample times to make them Unix nanoseconds.</param>
    public PerfRecordDecoder(KfreeSkbLayout layout, IReadOnlyDictionary<int, string> reasonNames, DropAggregator aggregator, long clockOffsetNs)
    {
        _layout = layout;
        _aggregator = aggregator;
        _clockOffsetNs = clockOffsetNs;
        _reasonIds = new int[reasonNames.Count == 0 ? 0 : reasonNames.Keys.Max() + 1];
        foreach (var (value, name) in reasonNames)
            if (value >= 0) _reasonIds[value] = aggregator.Reasons.Intern(name);
    }

    /// <summary>Decodes one record (header included).</summary>
    public void Decode(ReadOnlySpan<byte> record)
    {
        var type = BinaryPrimitives.ReadUInt32LittleEndian(record);
        if (type == PERF_RECORD_SAMPLE)
            DecodeSample(record);
        else if (type == PERF_RECORD_LOST && record.Length >= 24)
            LostRecords += (long)BinaryPrimitives.ReadUInt64LittleEndian(record[16..]);
        // Other record types (throttle, etc.) carry nothing DropBoard counts.
    }

    /// <summary>
    /// From here on, remembers the earliest drop stamped at or after <paramref name="fromUnixNs"/> (see
    /// <see cref="FirstWatchedNs"/>): how a counter sample learns whether drops came while it read. Any thread.
    /// </summary>
    public void Watch(long fromUnixNs)
    {
        lock (_watchGate) (_watchFromNs, _firstWatchedNs) = (fromUnixNs, long.MaxValue);
    }

    /// <summary>
    /// The earliest drop stamped at or after the last <see cref="Watch"/>'s start among the records decoded since,
    /// <see cref="long.MaxValue"/> if none; at most the start when a run of records decoded across the Watch call
    /// reached it (which of them did is not known then: as early as can be is the safe answer).
    /// </summary>
    public long FirstWatchedNs
    {
        get
        {
            lock (_watchGate) return _firstWatchedNs;
        }
    }

    /// <summary>Walks a contiguous run of records, as a ring reads when it does not wrap (and as fixtures are stored).</summary>
    // One lock before and one after the run, none per record: the watch costs a compare per drop.
    public void DecodeAll(ReadOnlySpan<byte> records)
    {
        lock (_watchGate) (_runFromNs, _runFirstNs, _runLastNs) = (_watchFromNs, long.MaxValue, long.MinValue);
        DecodeRun(records);
        lock (_watchGate)
        {
            if (_watchFromNs == _runFromNs) _firstWatchedNs = Math.Min(_firstWatchedNs, _runFirstNs);
            else if (_runLastNs >= _watchFromNs) _firstWatchedNs = Math.Min(_firstWatchedNs, _watchFromNs);
        }
    }

    private void DecodeRun(ReadOnlySpan<byte> records)
    {
        while (records.Length > 0)
        {
            if (records.Length < 8)
            {
                Corrupt($"{records.Length} trailing bytes, less than a record header");
                return;
            }
            var size = BinaryPrimitives.ReadUInt16LittleEndian(records[6..]);
            if (size < 8 || size > records.Length)
            {
                Corrupt($"record size {size} with {records.Length} bytes left");
                return;
            }
            Decode(records[..size]);
            records = records[size..];
        }
    }

    public void Corrupt(string why)
    {
        CorruptRecords++;
        LastError = $"corrupt perf record: {why}";
    }

    private void DecodeSample(ReadOnlySpan<byte> record)
    {
        if (record.Length < RawAt)
        {
            Corrupt($"sample of {record.Length} bytes is shorter than its fixed part ({RawAt})");
            return;
        }
        var rawSize = BinaryPrimitives.ReadUInt32LittleEndian(record[RawSizeAt..]);
        if (rawSize > record.Length - RawAt || rawSize < _layout.MinimumRawSize)
        {
            Corrupt($"raw size {rawSize} does not fit a {record.Length}-byte sample needing {_layout.MinimumRawSize}");
            return;
        }
        var raw = record.Slice(RawAt, (int)rawSize);
        if (BinaryPrimitives.ReadUInt16LittleEndian(raw) != _layout.EventId && _layout.EventId >= 0)
            return; // another event sharing the ring

        var time = (long)BinaryPrimitives.ReadUInt64LittleEndian(record[8..]) + _clockOffsetNs;
        if (time >= _runFromNs && time < _runFirstNs) _runFirstNs = time;
        if (time > _runLastNs) _runLastNs = time;
        var pc = BinaryPrimitives.ReadUInt64LittleEndian(raw[_layout.LocationOffset..]);
        var reasonId = DropReasonTable.None;
        if (_layout.HasReason)
        {
            var value = _layout.ReasonSize == 4
                ? BinaryPrimitives.ReadUInt32LittleEndian(raw[_layout.ReasonOffset..])
                : BinaryPrimitives.ReadUInt16LittleEndian(raw[_layout.ReasonOffset..]);
            reasonId = value < (uint)_reasonIds.Length && _reasonIds[value] != 0 ? _reasonIds[value] : UnknownReason(value);
        }
        Samples++;
        var protocol = _layout.HasProtocol ? BinaryPrimitives.ReadUInt16LittleEndian(raw[_layout.ProtocolOffset..]) : (ushort)0;
        _aggregator.Add(pc, reasonId, time, 1, protocol);
    }

    // A value the print fmt does not name (a distro backport): keep it visible rather than fold it into another reason.
    private int UnknownReason(uint value)
    {
        if (!_unknownReasons.TryGetValue(value, out var id))
            _unknownReasons[value] = id = _aggregator.Reasons.Intern($"REASON_{value}");
        return id;
    }
}
