using System.Buffers;
using System.Text;

namespace DropBoard.Agent.Counters;

/// <summary>Counter values read at one moment, by <c>Group.Name</c>, plus what could not be read.</summary>
public sealed class CounterSnapshot
{
    private readonly CounterNames _names;
    private readonly List<string> _impliedZeroPrefixes = [];
    private bool _namespaceReset;

    public CounterSnapshot() : this(new CounterNames())
    {
    }

    /// <param name="names">Shared with the other snapshots of the same sampler, so names are built once.</param>
    internal CounterSnapshot(CounterNames names) => _names = names;

    public Dictionary<string, ulong> Values { get; } = new(StringComparer.Ordinal);

    /// <summary>
    /// What some counters count, in words, by counter name: a netfilter rule's text. The dashboard shows it beside
    /// the counter; sent when a counter first appears or its text changes.
    /// </summary>
    public Dictionary<string, string> Texts { get; } = new(StringComparer.Ordinal);

    /// <summary>A hash of what each text was made from, so the next sample renders only texts whose source changed.</summary>
    internal Dictionary<string, int> TextSources { get; } = new(StringComparer.Ordinal);

    /// <summary>Lines that did not parse, each naming file and line; the valid rest is still in <see cref="Values"/>.</summary>
    public List<string> Problems { get; } = [];

    /// <summary>
    /// Some groups print only their non-zero counters (<c>IcmpMsg</c>, <c>Icmp6InType*</c>): in a snapshot that
    /// read their file, an absent name with such a prefix is a zero, so its first appearance is a real rise.
    /// </summary>
    public bool ImpliesZero(string name)
    {
        if (_namespaceReset && !name.StartsWith("Softnet.", StringComparison.Ordinal)) return true;
        foreach (var prefix in _impliedZeroPrefixes)
            if (name.StartsWith(prefix, StringComparison.Ordinal)) return true;
        return false;
    }

    public void Clear()
    {
        Values.Clear();
        Texts.Clear();
        TextSources.Clear();
        Problems.Clear();
        _impliedZeroPrefixes.Clear();
        _namespaceReset = false;
    }

    /// <summary>
    /// The namespace this snapshot was read from has been replaced by a new one: every per-namespace counter
    /// restarted at zero, so compared with this snapshot the new values are entirely new counts. softnet_stat
    /// is machine-wide and keeps going.
    /// </summary>
    internal void ForgetNamespaceCounters()
    {
        foreach (var name in Values.Keys)
            if (!name.StartsWith("Softnet.", StringComparison.Ordinal)) Values.Remove(name);
        _namespaceReset = true;
    }

    internal void AddImpliedZeroPrefix(string prefix) => _impliedZeroPrefixes.Add(prefix);

    /// <summary>Stores a name built by the caller (netlink readers, whose names have more parts); returns the interned name.</summary>
    internal string Set(ReadOnlySpan<char> name, ulong value)
    {
        var interned = _names.Get(name);
        Values[interned] = value;
        return interned;
    }

    /// <summary>Stores <c>part1.part2[.part3]</c> = value; the parts are UTF-8 slices of the file.</summary>
    internal void Set(ReadOnlySpan<byte> part1, ReadOnlySpan<byte> part2, ReadOnlySpan<byte> part3, ulong value)
    {
        var length = part1.Length + 1 + part2.Length + (part3.IsEmpty ? 0 : 1 + part3.Length);
        char[]? rented = null;
        var chars = length <= 256 ? stackalloc char[length] : (rented = ArrayPool<char>.Shared.Rent(length));
        var at = Append(chars, 0, part1);
        chars[at++] = '.';
        at = Append(chars, at, part2);
        if (!part3.IsEmpty)
        {
            chars[at++] = '.';
            at = Append(chars, at, part3);
        }
        Values[_names.Get(chars[..at])] = value;
        if (rented is not null) ArrayPool<char>.Shared.Return(rented);
    }

    private static int Append(Span<char> chars, int at, ReadOnlySpan<byte> utf8) =>
        at + (Ascii.ToUtf16(utf8, chars[at..], out var written) == System.Buffers.OperationStatus.Done
            ? written
            : Encoding.UTF8.GetChars(utf8, chars[at..]));
}
