using System.Buffers;
using System.Globalization;
using DropBoard.Shared.Sites;
using static DropBoard.Web.Sessions.Import.ImportLimits;

namespace DropBoard.Web.Sessions.Import;

/// <summary>
/// What the kernel's names in an import can look like. Symbols and modules as /proc/kallsyms prints them
/// (<c>tcp_v4_rcv</c>, <c>foo.cold</c>, <c>foo.isra.0</c>, <c>__pfx_foo</c>, <c>[nf_conntrack]</c>: letters, digits,
/// '_' and '.'), drop reasons (<c>SOCKET_RCVBUFF</c>), counter and device names. These are the rules the hub
/// applies to agents' batches, so a session recorded live can be exported and imported again.
/// </summary>
public static class KernelNames
{
    public const string SymbolRule = "letters, digits, '_' and '.'";
    public const string ReasonRule = "A-Z, 0-9 and '_'";
    public const string CounterRule = "Group.Name without spaces, control characters or '/'";

    private const string Alphanumerics = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    private static readonly SearchValues<char> SymbolChars = SearchValues.Create(Alphanumerics + "_.");
    private static readonly SearchValues<char> ReasonChars = SearchValues.Create("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
    // Linux allows any byte in a device name but '/', ':' and whitespace (dev_valid_name), and device names are
    // part of counter names (Dev.eth0.rx_dropped): a stricter rule would refuse whole batches of a host with an
    // unusual device. What reaches a page is escaped there.
    private static bool IsNameChar(char c) => !char.IsControl(c) && !char.IsWhiteSpace(c) && !char.IsSurrogate(c) && c != '/';
    // The words of a site without an address: "hardware (rx_dropped rose)", "ttl_value_is_too_small (hardware trap)".
    private static readonly SearchValues<char> DescriptionChars = SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789_ ");

    public static bool IsSymbol(string? text) => Made(text, SymbolChars, MaxSymbol);

    public static bool IsReason(string? text) => Made(text, ReasonChars, MaxReason);

    /// <summary>An IP address as .NET writes it (<c>10.0.0.1</c>, <c>fd00::1</c>): what the agent sends for a flow's ends.</summary>
    public static bool IsAddress(string? text) =>
        text is { Length: > 0 and <= 45 } && System.Net.IPAddress.TryParse(text, out var address) && address.ToString() == text;

    /// <summary>What is wrong with one dropped flow, null when nothing: addresses must be plain IP address text.</summary>
    public static string? FlowProblem(Shared.Contracts.DroppedFlow? f)
    {
        if (f is null || f.Count <= 0 || f.Ifindex < 0) return $"a flow is missing, or its count is not positive ({f?.Count}) or its ifindex negative";
        if (!IsAddress(f.Source)) return $"source '{ImportException.Excerpt(f.Source ?? "")}' is not an IP address";
        if (!IsAddress(f.Destination)) return $"destination '{ImportException.Excerpt(f.Destination ?? "")}' is not an IP address";
        return null;
    }

    /// <summary><c>Udp.InErrors</c>, <c>Softnet.cpu0.dropped</c>, <c>Dev.eth0.100.rx_dropped</c>.</summary>
    public static bool IsCounter(string? text)
    {
        var dot = text?.IndexOf('.') ?? -1;
        return Named(text, MaxCounterName) && dot > 0 && dot < text!.Length - 1;
    }

    /// <summary>A device name, or <c>ifindex N</c> when the kernel gave only the index.</summary>
    public static bool IsInPort(string? text) =>
        Named(text, MaxDeviceName) && !text!.Contains(':')
        || text is not null && text.StartsWith("ifindex ", StringComparison.Ordinal) && uint.TryParse(text.AsSpan(8), NumberStyles.None, CultureInfo.InvariantCulture, out _);

    /// <summary>Why the function or module of a parsed site is no kernel symbol, or null.</summary>
    public static string? Problem(DropSite site) =>
        SymbolProblem(site.Function, "a kernel symbol") is { } function ? $"function name {function}"
        : site.Module is not null && SymbolProblem(site.Module, "a kernel module name") is { } module ? $"module name {module}"
        : null;

    /// <summary>Why <paramref name="name"/> is not <paramref name="kind"/> (as "a kernel symbol"), said after the field, or null.</summary>
    public static string? SymbolProblem(string? name, string kind) =>
        string.IsNullOrEmpty(name) ? "is empty"
        : name.Length > MaxSymbol ? $"'{ImportException.Excerpt(name)}' is {name.Length} characters long, longer than {kind} is ({MaxSymbol})"
        : name.AsSpan().ContainsAnyExcept(SymbolChars) ? $"'{ImportException.Excerpt(name)}' has characters {kind} never has (only {SymbolRule})"
        : null;

    /// <summary>
    /// A site as the agent writes it with its function: DropSite's own text for a resolved address (exactly, so
    /// nothing rides after a "/size" that parsing would skip), the bare function for an address no symbol covers,
    /// and "function (description)" for a drop without an address (NET_DM's hardware drops and traps).
    /// </summary>
    public static bool IsSiteOf(string? site, string function)
    {
        if (site is null) return false;
        if (site == function) return true;
        if (DropSite.TryParse(site, out var parsed))
            return parsed.Function == function && (parsed.Module is null || IsSymbol(parsed.Module)) && parsed.IsWrittenAs(site);
        return site.StartsWith($"{function} (", StringComparison.Ordinal) && site.EndsWith(')')
               && Made(site[(function.Length + 2)..^1], DescriptionChars, MaxLabel);
    }

    private static bool Named(string? text, int max) => !string.IsNullOrEmpty(text) && text.Length <= max && text.All(IsNameChar);

    private static bool Made(string? text, SearchValues<char> chars, int max) =>
        !string.IsNullOrEmpty(text) && text.Length <= max && !text.AsSpan().ContainsAnyExcept(chars);
}
