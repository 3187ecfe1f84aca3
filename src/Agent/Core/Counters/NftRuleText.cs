using System.Text;
using DropBoard.Agent.Netlink;

namespace DropBoard.Agent.Counters;

/// <summary>
/// A compact text of an nftables rule from its netlink expressions, close to what <c>nft list ruleset</c> prints:
/// <c>ip protocol 17 th dport 7003 counter drop</c>. Loads (payload, meta) are shown with the comparison that uses
/// their register; verdicts, xt matches and targets (iptables-nft) by name; the rule's comment from its userdata.
/// What it does not render (protocol names, set contents, masks, NAT arguments) shows as the expression's name.
/// </summary>
public static class NftRuleText
{
    public const int MaxLength = 256;

    private const ushort NFTA_LIST_ELEM = 1, NFTA_EXPR_NAME = 1, NFTA_EXPR_DATA = 2;
    private const ushort NFTA_PAYLOAD_DREG = 1, NFTA_PAYLOAD_BASE = 2, NFTA_PAYLOAD_OFFSET = 3, NFTA_PAYLOAD_LEN = 4;
    private const ushort NFTA_META_DREG = 1, NFTA_META_KEY = 2;
    private const ushort NFTA_CMP_SREG = 1, NFTA_CMP_OP = 2, NFTA_CMP_DATA = 3;
    private const ushort NFTA_IMMEDIATE_DATA = 2, NFTA_DATA_VALUE = 1, NFTA_DATA_VERDICT = 2, NFTA_VERDICT_CODE = 1, NFTA_VERDICT_CHAIN = 2;
    private const ushort NFTA_XT_NAME = 1, NFTA_LOOKUP_SET = 1;
    private const ushort NFTA_CT_DREG = 1, NFTA_CT_KEY = 2;
    private const ushort NFTA_BITWISE_SREG = 1, NFTA_BITWISE_DREG = 2, NFTA_BITWISE_MASK = 4;
    private const byte NFTNL_UDATA_RULE_COMMENT = 0;

    public static string Render(ReadOnlySpan<byte> expressions, ReadOnlySpan<byte> userdata)
    {
        var text = new StringBuilder();
        var loads = new Dictionary<uint, (string Text, bool Address)>();
        try
        {
            foreach (var element in new NetlinkAttributeReader(expressions))
            {
                if (element.Type != NFTA_LIST_ELEM) continue;
                string? name = null;
                ReadOnlySpan<byte> data = default;
                foreach (var field in element.Nested())
                {
                    if (field.Type == NFTA_EXPR_NAME) name = field.String();
                    else if (field.Type == NFTA_EXPR_DATA) data = field.Payload;
                }
                Expression(name ?? "?", data, loads, text);
            }
        }
        catch (NetlinkParseException e)
        {
            Word(text, $"(cut: {e.Message})");
        }
        if (Comment(userdata) is { } comment) Word(text, $"comment \"{comment}\"");
        return text.Length <= MaxLength ? text.ToString() : text.ToString(0, MaxLength - 1) + "…";
    }

    private static void Expression(string name, ReadOnlySpan<byte> data, Dictionary<uint, (string, bool)> loads, StringBuilder text)
    {
        switch (name)
        {
            case "payload":
            {
                uint register = 0, @base = 0, offset = 0, length = 0;
                foreach (var field in new NetlinkAttributeReader(data))
                {
                    if (field.Type == NFTA_PAYLOAD_DREG) register = field.U32BigEndian();
                    else if (field.Type == NFTA_PAYLOAD_BASE) @base = field.U32BigEndian();
                    else if (field.Type == NFTA_PAYLOAD_OFFSET) offset = field.U32BigEndian();
                    else if (field.Type == NFTA_PAYLOAD_LEN) length = field.U32BigEndian();
                }
                loads[register] = Payload(@base, offset, length);
                break;
            }
            case "meta":
            {
                uint? register = null, key = null;
                foreach (var field in new NetlinkAttributeReader(data))
                {
                    if (field.Type == NFTA_META_DREG) register = field.U32BigEndian();
                    else if (field.Type == NFTA_META_KEY) key = field.U32BigEndian();
                }
                if (register is { } r) loads[r] = ($"meta {MetaKey(key ?? 0)}", false);
                else Word(text, $"meta set {MetaKey(key ?? 0)}");
                break;
            }
            case "ct":
            {
                uint? register = null, key = null;
                foreach (var field in new NetlinkAttributeReader(data))
                {
                    if (field.Type == NFTA_CT_DREG) register = field.U32BigEndian();
                    else if (field.Type == NFTA_CT_KEY) key = field.U32BigEndian();
                }
                var what = key switch { 0 => "ct state", 1 => "ct direction", 2 => "ct status", 3 => "ct mark", _ => $"ct key{key}" };
                if (register is { } r) loads[r] = (what, false);
                else Word(text, $"{what} set");
                break;
            }
            case "bitwise":
            {
                uint source = 0, destination = 0;
                ReadOnlySpan<byte> mask = default;
                foreach (var field in new NetlinkAttributeReader(data))
                {
                    if (field.Type == NFTA_BITWISE_SREG) source = field.U32BigEndian();
                    else if (field.Type == NFTA_BITWISE_DREG) destination = field.U32BigEndian();
                    else if (field.Type == NFTA_BITWISE_MASK)
                        foreach (var inner in field.Nested())
                            if (inner.Type == NFTA_DATA_VALUE) mask = inner.Payload;
                }
                var (load, _) = loads.GetValueOrDefault(source, ($"reg {source}", false));
                // ct state is a host-order bit set (NF_CT_STATE_*_BIT); "ct state invalid" is (state & invalid) != 0.
                loads[destination] = load == "ct state" && mask.Length == 4
                    ? ($"ct state {CtStates(BitConverter.ToUInt32(mask))}", false)
                    : ($"{load} & 0x{Convert.ToHexStringLower(mask)}", false);
                break;
            }
            case "cmp":
            {
                uint register = 0, op = 0;
                ReadOnlySpan<byte> value = default;
                foreach (var field in new NetlinkAttributeReader(data))
                {
                    if (field.Type == NFTA_CMP_SREG) register = field.U32BigEndian();
                    else if (field.Type == NFTA_CMP_OP) op = field.U32BigEndian();
                    else if (field.Type == NFTA_CMP_DATA)
                        foreach (var inner in field.Nested())
                            if (inner.Type == NFTA_DATA_VALUE) value = inner.Payload;
                }
                var (load, address) = loads.GetValueOrDefault(register, ($"reg {register}", false));
                if (load.StartsWith("ct state ", StringComparison.Ordinal) && op == 1 && !value.ContainsAnyExcept((byte)0)) Word(text, load);
                else Word(text, $"{load}{Operator(op)} {Value(value, address)}");
                break;
            }
            case "immediate":
                foreach (var field in new NetlinkAttributeReader(data))
                    if (field.Type == NFTA_IMMEDIATE_DATA)
                        foreach (var inner in field.Nested())
                            if (inner.Type == NFTA_DATA_VERDICT) Word(text, Verdict(inner.Nested()));
                break;
            case "match" or "target":
                foreach (var field in new NetlinkAttributeReader(data))
                    if (field.Type == NFTA_XT_NAME) Word(text, name == "match" ? $"xt match \"{field.String()}\"" : $"xt target \"{field.String()}\"");
                break;
            case "lookup":
                foreach (var field in new NetlinkAttributeReader(data))
                    if (field.Type == NFTA_LOOKUP_SET) Word(text, $"@{field.String()}");
                break;
            default:
                Word(text, name);
                break;
        }
    }

    /// <summary>The loads nft itself names; others as its raw form <c>@nh,OFFSET,LENGTH</c> in bits.</summary>
    private static (string, bool Address) Payload(uint @base, uint offset, uint length) => (@base, offset, length) switch
    {
        (1, 9, 1) => ("ip protocol", false),
        (1, 12, 4) => ("ip saddr", true),
        (1, 16, 4) => ("ip daddr", true),
        (1, 6, 1) => ("ip6 nexthdr", false),
        (2, 0, 2) => ("th sport", false),
        (2, 2, 2) => ("th dport", false),
        _ => ($"@{@base switch { 0 => "ll", 1 => "nh", 2 => "th", _ => "ih" }},{offset * 8},{length * 8}", false),
    };

    private static string MetaKey(uint key) => key switch
    {
        0 => "length",
        1 => "protocol",
        3 => "mark",
        4 => "iif",
        5 => "oif",
        6 => "iifname",
        7 => "oifname",
        15 => "nfproto",
        16 => "l4proto",
        _ => $"key{key}",
    };

    private static string CtStates(uint bits)
    {
        string[] names = ["invalid", "established", "related", "new", "", "", "untracked"];
        var set = Enumerable.Range(0, names.Length).Where(b => (bits & (1u << b)) != 0 && names[b].Length > 0).Select(b => names[b]);
        return string.Join(',', set);
    }

    private static string Operator(uint op) => op switch { 0 => "", 1 => " !=", 2 => " <", 3 => " <=", 4 => " >", 5 => " >=", _ => $" op{op}" };

    /// <summary>Numbers of up to 8 bytes in network order as decimal, IPv4 addresses dotted, interface names as text.</summary>
    private static string Value(ReadOnlySpan<byte> value, bool address)
    {
        if (address && value.Length == 4) return $"{value[0]}.{value[1]}.{value[2]}.{value[3]}";
        var end = value.IndexOf((byte)0);
        if (value.Length > 1 && end > 0 && !value[..end].ContainsAnyExceptInRange((byte)0x21, (byte)0x7e) && !value[end..].ContainsAnyExcept((byte)0))
            return $"\"{Encoding.ASCII.GetString(value[..end])}\"";
        if (value.Length is 0 or > 8) return "0x" + Convert.ToHexStringLower(value);
        ulong number = 0;
        foreach (var b in value) number = number << 8 | b;
        return number.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    private static string Verdict(NetlinkAttributeReader verdict)
    {
        int? code = null;
        string? chain = null;
        foreach (var field in verdict)
        {
            if (field.Type == NFTA_VERDICT_CODE) code = (int)field.U32BigEndian();
            else if (field.Type == NFTA_VERDICT_CHAIN) chain = field.String();
        }
        return code switch
        {
            0 => "drop",
            1 => "accept",
            3 => "queue",
            -1 => "continue",
            -3 => $"jump {chain}",
            -4 => $"goto {chain}",
            -5 => "return",
            _ => $"verdict {code}",
        };
    }

    /// <summary>libnftnl's rule userdata: type, length, value triples; the comment is type 0, NUL-terminated.</summary>
    private static string? Comment(ReadOnlySpan<byte> userdata)
    {
        while (userdata.Length >= 2)
        {
            var (type, length) = (userdata[0], userdata[1]);
            if (2 + length > userdata.Length) return null;
            var value = userdata.Slice(2, length);
            if (type == NFTNL_UDATA_RULE_COMMENT)
            {
                var end = value.IndexOf((byte)0);
                return Encoding.UTF8.GetString(end < 0 ? value : value[..end]);
            }
            userdata = userdata[(2 + length)..];
        }
        return null;
    }

    private static void Word(StringBuilder text, string word)
    {
        if (text.Length > 0) text.Append(' ');
        text.Append(word);
    }
}
