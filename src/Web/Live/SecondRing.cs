using System.Buffers;
using System.Runtime.InteropServices;

namespace DropBoard.Web.Live;

/// <summary>
/// Sums per key per second over the last <c>seconds</c> seconds, in a fixed ring: memory is bounded by the
/// keys active in each second, whatever the traffic. Data older than the ring is ignored: the live view has moved past it.
/// The last few seconds, which batches still add to, are dictionaries; older ones are packed into a few bytes per key
/// (keys ascending as varint steps, values as varints): a fleet of hosts with hundreds of busy sites keeps 15 minutes
/// at ~3 bytes a site a second instead of ~30. A late batch unpacks its second again. Not thread-safe: the owning host
/// state locks around it.
/// </summary>
internal sealed class SecondRing(int seconds)
{
    /// <summary>Seconds this close to the newest stay unpacked: a batch spans 250 ms and may arrive a little late.</summary>
    private const int HotSeconds = 3;

    private readonly long[] _second = Enumerable.Repeat(long.MinValue, seconds).ToArray();
    private readonly Dictionary<int, long>?[] _hot = new Dictionary<int, long>?[seconds];
    private readonly byte[]?[] _packed = new byte[]?[seconds];
    private readonly List<int> _hotSlots = [];
    private readonly Stack<Dictionary<int, long>> _spare = new();
    private readonly ArrayBufferWriter<byte> _scratch = new();
    private long _newest = long.MinValue;

    /// <summary>Adds the value to its second's sum; false when the second is older than the ring (ignored).</summary>
    public bool Add(long second, int key, long value)
    {
        var slot = (int)(second % seconds);
        if (_second[slot] != second)
        {
            if (_second[slot] > second) return false;
            _second[slot] = second;
            Release(slot);
        }
        var sums = _hot[slot] ?? Unpack(slot);
        CollectionsMarshal.GetValueRefOrAddDefault(sums, key, out _) += value;
        if (second > _newest)
        {
            _newest = second;
            PackBefore(second - HotSeconds);
        }
        return true;
    }

    /// <summary>The seconds in [from, to] that hold data, with their sums (not to be kept: slots are reused).</summary>
    public IEnumerable<(long Second, SecondSums Sums)> Range(long from, long to)
    {
        for (var second = Math.Max(from, to - seconds + 1); second <= to; second++)
        {
            var slot = (int)(second % seconds);
            if (_second[slot] != second) continue;
            if (_hot[slot] is { Count: > 0 } hot) yield return (second, new SecondSums(hot, null));
            else if (_packed[slot] is { Length: > 0 } packed) yield return (second, new SecondSums(null, packed));
        }
    }

    private void Release(int slot)
    {
        _packed[slot] = null;
        if (_hot[slot] is not { } hot) return;
        hot.Clear();
        _spare.Push(hot);
        _hot[slot] = null;
        _hotSlots.Remove(slot);
    }

    private Dictionary<int, long> Unpack(int slot)
    {
        var sums = _spare.TryPop(out var spare) ? spare : [];
        if (_packed[slot] is { } packed)
            foreach (var (key, value) in new SecondSums(null, packed)) sums[key] = value;
        _packed[slot] = null;
        _hot[slot] = sums;
        _hotSlots.Add(slot);
        return sums;
    }

    private void PackBefore(long second)
    {
        for (var i = _hotSlots.Count - 1; i >= 0; i--)
        {
            var slot = _hotSlots[i];
            if (_second[slot] >= second) continue;
            var hot = _hot[slot]!;
            var keys = hot.Keys.ToArray();
            Array.Sort(keys);
            _scratch.ResetWrittenCount();
            var previous = 0;
            foreach (var key in keys)
            {
                Varint.Write(_scratch, (ulong)(key - previous));
                Varint.Write(_scratch, Varint.ZigZag(hot[key]));
                previous = key;
            }
            _packed[slot] = _scratch.WrittenSpan.ToArray();
            hot.Clear();
            _spare.Push(hot);
            _hot[slot] = null;
            _hotSlots.RemoveAt(i);
        }
    }
}

/// <summary>The sums of one second: an unpacked dictionary or packed bytes, read alike.</summary>
internal readonly struct SecondSums(Dictionary<int, long>? hot, byte[]? packed)
{
    public Enumerator GetEnumerator() => new(hot, packed);

    public struct Enumerator(Dictionary<int, long>? hot, byte[]? packed)
    {
        private Dictionary<int, long>.Enumerator _hot = hot?.GetEnumerator() ?? default;
        private int _offset, _key;

        public KeyValuePair<int, long> Current { get; private set; }

        public bool MoveNext()
        {
            if (hot is not null)
            {
                if (!_hot.MoveNext()) return false;
                Current = _hot.Current;
                return true;
            }
            if (packed is null || _offset >= packed.Length) return false;
            _key += (int)Varint.Read(packed, ref _offset);
            Current = new(_key, Varint.UnZigZag(Varint.Read(packed, ref _offset)));
            return true;
        }
    }
}

/// <summary>LEB128 unsigned varints, and zigzag for values that could be negative.</summary>
internal static class Varint
{
    public static void Write(ArrayBufferWriter<byte> to, ulong value)
    {
        var span = to.GetSpan(10);
        var n = 0;
        while (value >= 0x80)
        {
            span[n++] = (byte)(value | 0x80);
            value >>= 7;
        }
        span[n++] = (byte)value;
        to.Advance(n);
    }

    public static ulong Read(byte[] from, ref int offset)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = from[offset++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80) return value;
        }
    }

    public static ulong ZigZag(long value) => (ulong)((value << 1) ^ (value >> 63));

    public static long UnZigZag(ulong value) => (long)(value >> 1) ^ -(long)(value & 1);
}
