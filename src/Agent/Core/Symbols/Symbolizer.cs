using System.Buffers.Text;
using System.Globalization;
using System.Text;
using DropBoard.Agent.Capture;
using DropBoard.Shared.Sites;

namespace DropBoard.Agent.Symbols;

/// <summary>
/// Kernel text addresses to <c>function+0xoffset [module]</c>, from /proc/kallsyms as <c>dropwatch -l kas</c>
/// does: sorted addresses, binary search for the nearest symbol at or below the pc.
/// </summary>
/// <remarks>
/// Compact, because the agent lives on every host: kallsyms is read as bytes in chunks (no string per line, no 5 MB
/// text in memory), names are kept as bytes back to back, and a name becomes a string only when a drop site is
/// resolved. 120 000 symbols take about 4 MB instead of 20.
/// </remarks>
public sealed class Symbolizer
{
    private readonly ulong[] _addresses;
    private readonly int[] _nameStarts;
    private readonly ushort[] _nameLengths;
    private readonly short[] _moduleIds;
    private readonly byte[] _names;
    private readonly string[] _modules;
    private readonly string? _path;
    private string _modulesStamp;

    public int Count => _addresses.Length;

    /// <summary>Bumped on every reload, so caches of resolved sites know to start over.</summary>
    public int Generation { get; private set; }

    private Symbolizer(Table table, string? path)
    {
        (_addresses, _nameStarts, _nameLengths, _moduleIds, _names, _modules) = table.Build();
        _path = path;
        _modulesStamp = ModulesStamp();
    }

    public static Symbolizer LoadKallsyms(string path = "/proc/kallsyms")
    {
        var table = new Table(path);
        try
        {
            // A proc file: read in chunks as the kernel produces it, never whole.
            using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0);
            var buffer = new byte[64 * 1024];
            var filled = 0;
            while (true)
            {
                var read = file.Read(buffer, filled, buffer.Length - filled);
                if (read == 0) break;
                filled += read;
                var consumed = table.AddLines(buffer.AsSpan(0, filled));
                buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                filled -= consumed;
                if (filled == buffer.Length) Array.Resize(ref buffer, buffer.Length * 2); // a line longer than the buffer
            }
            table.AddLines(buffer.AsSpan(0, filled), final: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CaptureUnavailableException($"cannot read {path}: {e.Message}", "run the agent as root");
        }
        return new Symbolizer(table, path);
    }

    /// <summary>Builds a symbolizer from kallsyms text (tests, recorded fixtures).</summary>
    public static Symbolizer FromText(string kallsyms)
    {
        var table = new Table("kallsyms");
        table.AddLines(Encoding.UTF8.GetBytes(kallsyms), final: true);
        return new Symbolizer(table, null);
    }

    public DropSite Resolve(ulong pc)
    {
        var i = Array.BinarySearch(_addresses, pc);
        if (i < 0) i = ~i - 1;
        if (i < 0) return new DropSite($"0x{pc:x}", 0);
        var name = Encoding.UTF8.GetString(_names, _nameStarts[i], _nameLengths[i]);
        return new DropSite(name, pc - _addresses[i], _moduleIds[i] < 0 ? null : _modules[_moduleIds[i]]);
    }

    /// <summary>A reloaded symbolizer when modules were loaded or unloaded since this one was read, else this.</summary>
    public Symbolizer RefreshIfModulesChanged()
    {
        if (_path is null || ModulesStamp() == _modulesStamp) return this;
        var fresh = LoadKallsyms(_path);
        fresh.Generation = Generation + 1;
        return fresh;
    }

    private static string ModulesStamp()
    {
        try
        {
            return File.ReadAllText("/proc/modules").GetHashCode().ToString(CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>The text symbols of a kallsyms as they are read, in file order; <see cref="Build"/> sorts them.</summary>
    private sealed class Table(string source)
    {
        private ulong[] _addresses = new ulong[1024];
        private int[] _nameStarts = new int[1024];
        private ushort[] _nameLengths = new ushort[1024];
        private short[] _moduleIds = new short[1024];
        private byte[] _names = new byte[16 * 1024];
        private readonly List<byte[]> _moduleBytes = [];
        private int _count;
        private int _namesLength;
        private bool _nonZero;

        /// <summary>Adds every complete line (every line when <paramref name="final"/>); returns the bytes used.</summary>
        public int AddLines(ReadOnlySpan<byte> text, bool final = false)
        {
            var consumed = 0;
            while (consumed < text.Length)
            {
                var rest = text[consumed..];
                var end = rest.IndexOf((byte)'\n');
                if (end < 0)
                {
                    if (!final) break;
                    end = rest.Length;
                }
                Add(rest[..end].TrimEnd((byte)'\r'));
                consumed += Math.Min(end + 1, rest.Length);
            }
            return consumed;
        }

        // "ffffffff81a2b3c0 T udp_queue_rcv_one_skb" or "ffffffffc0a01000 t nf_hook\t[nf_conntrack]"
        private void Add(ReadOnlySpan<byte> line)
        {
            line = line.TrimStart((byte)' ');
            var firstSpace = line.IndexOf((byte)' ');
            if (firstSpace <= 0 || line.Length < firstSpace + 4) return;
            // Only code can be a drop site: text symbols (local, global, weak).
            if (line[firstSpace + 1] is not ((byte)'t' or (byte)'T' or (byte)'w' or (byte)'W')) return;
            if (!Utf8Parser.TryParse(line[..firstSpace], out ulong address, out var used, 'x') || used != firstSpace) return;
            var name = line[(firstSpace + 3)..];
            short module = -1;
            var bracket = name.IndexOf((byte)'[');
            if (bracket > 0)
            {
                module = ModuleId(name[(bracket + 1)..].TrimEnd((byte)']').Trim((byte)' '));
                name = name[..bracket];
            }
            name = name.Trim(" \t"u8);
            if (name.Length is 0 or > ushort.MaxValue) return;

            if (_count == _addresses.Length)
            {
                Array.Resize(ref _addresses, _count * 2);
                Array.Resize(ref _nameStarts, _count * 2);
                Array.Resize(ref _nameLengths, _count * 2);
                Array.Resize(ref _moduleIds, _count * 2);
            }
            if (_namesLength + name.Length > _names.Length) Array.Resize(ref _names, Math.Max(_names.Length * 2, _namesLength + name.Length));
            name.CopyTo(_names.AsSpan(_namesLength));
            _addresses[_count] = address;
            _nameStarts[_count] = _namesLength;
            _nameLengths[_count] = (ushort)name.Length;
            _moduleIds[_count] = module;
            _namesLength += name.Length;
            _count++;
            _nonZero |= address != 0;
        }

        private short ModuleId(ReadOnlySpan<byte> name)
        {
            // Lines of one module come together: the last one is nearly always the match.
            for (var i = _moduleBytes.Count - 1; i >= 0; i--)
                if (name.SequenceEqual(_moduleBytes[i])) return (short)i;
            if (_moduleBytes.Count == short.MaxValue) return -1;
            _moduleBytes.Add(name.ToArray());
            return (short)(_moduleBytes.Count - 1);
        }

        public (ulong[], int[], ushort[], short[], byte[], string[]) Build()
        {
            if (_count == 0)
                throw new CaptureUnavailableException($"{source} holds no kernel text symbols", "check that /proc/kallsyms is readable (CONFIG_KALLSYMS)");
            if (!_nonZero)
                throw new CaptureUnavailableException(
                    $"{source} shows every address as zero (kptr_restrict hides them from this user)",
                    "run the agent as root, or set sysctl kernel.kptr_restrict=0");

            var addresses = _addresses[.._count];
            var order = new int[_count];
            for (var i = 0; i < order.Length; i++) order[i] = i;
            Array.Sort(addresses, order);
            var starts = new int[_count];
            var lengths = new ushort[_count];
            var modules = new short[_count];
            for (var i = 0; i < order.Length; i++)
            {
                starts[i] = _nameStarts[order[i]];
                lengths[i] = _nameLengths[order[i]];
                modules[i] = _moduleIds[order[i]];
            }
            return (addresses, starts, lengths, modules, _names[.._namesLength], [.. _moduleBytes.Select(m => Encoding.UTF8.GetString(m))]);
        }
    }
}
