using System.Globalization;

namespace DropBoard.Shared.Sites;

/// <summary>
/// Where in the kernel a packet was dropped: a function, the offset of the return address inside it,
/// and the module when the function is not in the core kernel. Text form: <c>udp_queue_rcv_one_skb+0x437</c>,
/// <c>nf_hook_slow+0x45 [nf_conntrack]</c>.
/// </summary>
public readonly record struct DropSite(string Function, ulong Offset, string? Module = null)
{
    public override string ToString() =>
        Module is null
            ? $"{Function}+0x{Offset:x}"
            : $"{Function}+0x{Offset:x} [{Module}]";

    /// <summary>Whether <paramref name="text"/> is exactly this site's text form (<see cref="ToString"/>), found without making that text.</summary>
    public bool IsWrittenAs(ReadOnlySpan<char> text)
    {
        if (!text.StartsWith(Function, StringComparison.Ordinal) || !text[Function.Length..].StartsWith("+0x", StringComparison.Ordinal)) return false;
        text = text[(Function.Length + 3)..];
        Span<char> hex = stackalloc char[16];
        Offset.TryFormat(hex, out var digits, "x", CultureInfo.InvariantCulture);
        if (!text.StartsWith(hex[..digits], StringComparison.Ordinal)) return false;
        text = text[digits..];
        return Module is null
            ? text.IsEmpty
            : text.Length == Module.Length + 3 && text.StartsWith(" [", StringComparison.Ordinal) && text[^1] == ']' && text[2..^1].SequenceEqual(Module);
    }

    /// <summary>
    /// Parses <c>function+0xhex</c>, dropwatch's <c>function+hex</c> (dropwatch prints the offset in hex without
    /// a prefix), an optional <c>/0xsize</c> suffix as perf prints it, and an optional <c> [module]</c>.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<char> text, out DropSite site)
    {
        site = default;
        text = text.Trim();
        string? module = null;
        if (text.EndsWith("]"))
        {
            var open = text.LastIndexOf('[');
            if (open <= 0) return false;
            module = text[(open + 1)..^1].Trim().ToString();
            text = text[..open].TrimEnd();
        }

        var plus = text.LastIndexOf('+');
        if (plus <= 0) return false;
        var function = text[..plus];
        var offset = text[(plus + 1)..];
        var slash = offset.IndexOf('/');
        if (slash >= 0) offset = offset[..slash];
        if (offset.StartsWith("0x", StringComparison.OrdinalIgnoreCase)) offset = offset[2..];
        if (!ulong.TryParse(offset, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var value))
            return false;
        site = new DropSite(function.ToString(), value, module);
        return true;
    }
}
