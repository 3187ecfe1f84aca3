using System.Globalization;
using DropBoard.Agent.Capture;
using DropBoard.Shared.Sites;

namespace DropBoard.Agent.Symbols;

/// <summary>
/// Kernel text addresses to <c>function+0xoffset [module]</c>, from /proc/kallsyms as <c>dropwatch -l kas</c>
/// does: sorted addresses, binary search for the nearest symbol at or below the pc.
/// </summary>
public sealed class Symbolizer
{
    private readonly ulong[] _addresses;
    private readonly string[] _names;
    private readonly string?[] _modules;
    private readonly string? _path;
    private string _modulesStamp;

    public int Count => _addresses.Length;

    /// <summary>Bumped on every reload, so caches of resolved sites know to start over.</summary>
    public int Generation { get; private set; }

    private Symbolizer(ulong[] addresses, string[] names, string?[] modules, string? path)
    {
        _addresses = addresses;
        _names = names;
        _modules = modules;
        _path = path;
        _modulesStamp = ModulesStamp();
    }

    public static Symbolizer LoadKallsyms(string path = "/proc/kallsyms")
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CaptureUnavailableException($"cannot read {path}: {e.Message}", "run the agent as root");
        }
        var (addresses, names, modules) = Parse(text, path);
        return new Symbolizer(addresses, names, modules, path);
    }

    /// <summary>Builds a symbolizer from kallsyms text (tests, recorded fixtures).</summary>
    public static Symbolizer FromText(string kallsyms)
    {
        var (addresses, names, modules) = Parse(kallsyms, "kallsyms");
        return new Symbolizer(addresses, names, modules, null);
    }

    public DropSite Resolve(ulong pc)
    {
        var i = Array.BinarySearch(_addresses, pc);
        if (i < 0) i = ~i - 1;
        if (i < 0) return new DropSite($"0x{pc:x}", 0);
        return new DropSite(_names[i], pc - _addresses[i], _modules[i]);
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

    private static (ulong[], string[], string?[]) Parse(string text, string source)
    {
        var entries = new List<(ulong Address, string Name, string? Module)>(capacity: 200_000);
        var modules = new Dictionary<string, string>(StringComparer.Ordinal);
        var nonZero = false;
        foreach (var line in text.AsSpan().EnumerateLines())
        {
            // "ffffffff81a2b3c0 T udp_queue_rcv_one_skb" or "ffffffffc0a01000 t nf_hook\t[nf_conntrack]"
            var firstSpace = line.IndexOf(' ');
            if (firstSpace <= 0 || line.Length < firstSpace + 4) continue;
            var type = line[firstSpace + 1];
            // Only code can be a drop site: text symbols (local, global, weak).
            if (type is not ('t' or 'T' or 'w' or 'W')) continue;
            if (!ulong.TryParse(line[..firstSpace], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var address))
                continue;
            var rest = line[(firstSpace + 3)..];
            string? module = null;
            var bracket = rest.IndexOf('[');
            if (bracket > 0)
            {
                var name = rest[(bracket + 1)..].TrimEnd(']').Trim().ToString();
                module = modules.TryGetValue(name, out var interned) ? interned : modules[name] = name;
                rest = rest[..bracket];
            }
            nonZero |= address != 0;
            entries.Add((address, rest.Trim().ToString(), module));
        }

        if (entries.Count == 0)
            throw new CaptureUnavailableException($"{source} holds no kernel text symbols", "check that /proc/kallsyms is readable (CONFIG_KALLSYMS)");
        if (!nonZero)
            throw new CaptureUnavailableException(
                $"{source} shows every address as zero (kptr_restrict hides them from this user)",
                "run the agent as root, or set sysctl kernel.kptr_restrict=0");

        entries.Sort(static (a, b) => a.Address.CompareTo(b.Address));
        return (entries.Select(e => e.Address).ToArray(), entries.Select(e => e.Name).ToArray(), entries.Select(e => e.Module).ToArray());
    }
}
