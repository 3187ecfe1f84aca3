using System.Buffers.Binary;
using System.Text;
using DropBoard.Agent.Netlink;

namespace DropBoard.Agent.Counters;

/// <summary>
/// Parser for an nftables rule dump (NFT_MSG_GETRULE over NETLINK_NETFILTER; include/uapi/linux/netfilter/nf_tables.h,
/// nfnetlink.h). Rules made by <c>nft</c> and by <c>iptables-nft</c> are the same kind of object there: every rule
/// with a <c>counter</c> expression gives <c>Netfilter.FAMILY.TABLE.CHAIN.HANDLE</c> = its packets, and its text (a
/// compact rendering of its expressions, <see cref="NftRuleText"/>) under the same name in
/// <see cref="CounterSnapshot.Texts"/>. Pure: recorded dumps in, counters out.
/// </summary>
public static class NftRuleCounters
{
    private const ushort NFNL_SUBSYS_NFTABLES = 10, NFT_MSG_NEWRULE = 6, NFT_MSG_GETRULE = 7;
    private const int NfgenmsgSize = 4;
    private const ushort NFTA_RULE_TABLE = 1, NFTA_RULE_CHAIN = 2, NFTA_RULE_HANDLE = 3, NFTA_RULE_EXPRESSIONS = 4, NFTA_RULE_USERDATA = 7;
    private const ushort NFTA_LIST_ELEM = 1, NFTA_EXPR_NAME = 1, NFTA_EXPR_DATA = 2;
    private const ushort NFTA_COUNTER_PACKETS = 2;

    /// <summary>Table and chain names may be 255 bytes; a counter name must stay short enough for the dashboard (128).</summary>
    private const int MaxPart = 32;

    /// <summary>
    /// Rules sampled at most, in dump order (table, chain, position): a kube-proxy host can have tens of thousands,
    /// and a batch holds at most 20 000 counter rises and 4 MiB, texts included.
    /// </summary>
    public const int MaxRules = 4096;

    /// <summary>Dumps the rules of every family (NFPROTO_UNSPEC).</summary>
    public static byte[] DumpRequest() =>
        new NetlinkRequest(NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_GETRULE, NetlinkProtocol.NLM_F_REQUEST | NetlinkProtocol.NLM_F_DUMP, [0, 0, 0, 0]).ToArray();

    /// <param name="previous">The snapshot before: a rule whose expressions hash as they did there keeps its text
    /// without being rendered again (a table deleted and made again reuses handles, hence the hash, not the name alone).</param>
    public static void Parse(ReadOnlySpan<byte> datagram, CounterSnapshot into, CounterSnapshot? previous = null)
    {
        Span<char> name = stackalloc char[160];
        foreach (var message in new NetlinkDatagram(datagram))
        {
            if (message.Type != (NFNL_SUBSYS_NFTABLES << 8 | NFT_MSG_NEWRULE)) continue;
            if (message.Body.Length < NfgenmsgSize)
                throw new NetlinkParseException($"an nftables rule message of {message.Body.Length} bytes has no nfgenmsg");
            var family = Family(message.Body[0]);
            ReadOnlySpan<byte> table = default, chain = default, expressions = default, userdata = default;
            ulong? handle = null;
            foreach (var attribute in message.Attributes(NfgenmsgSize))
            {
                switch (attribute.Type)
                {
                    case NFTA_RULE_TABLE: table = attribute.StringBytes(); break;
                    case NFTA_RULE_CHAIN: chain = attribute.StringBytes(); break;
                    case NFTA_RULE_HANDLE: handle = attribute.U64BigEndian(); break;
                    case NFTA_RULE_EXPRESSIONS: expressions = attribute.Payload; break;
                    case NFTA_RULE_USERDATA: userdata = attribute.Payload; break;
                }
            }
            if (CounterPackets(expressions) is not { } packets) continue;
            if (into.Texts.Count >= MaxRules)
            {
                into.Problems.Add($"nftables: more than {MaxRules} rules with a counter; the rest are not sampled");
                return;
            }
            if (handle is null || table.IsEmpty || chain.IsEmpty)
            {
                into.Problems.Add("nftables: a rule with a counter has no table, chain or handle");
                continue;
            }
            if (!name.TryWrite($"Netfilter.{family}.", out var at) || !AppendPart(name, ref at, table, '.') || !AppendPart(name, ref at, chain, '.')
                || !name[at..].TryWrite($"{handle}", out var digits))
                continue;
            at += digits;
            var counter = into.Set(name[..at], packets);
            var hash = new HashCode();
            hash.AddBytes(expressions);
            hash.AddBytes(userdata);
            var source = hash.ToHashCode();
            into.TextSources[counter] = source;
            into.Texts[counter] = previous is not null && previous.TextSources.TryGetValue(counter, out var before) && before == source
                                  && previous.Texts.TryGetValue(counter, out var text)
                ? text
                : NftRuleText.Render(expressions, userdata);
        }
    }

    /// <summary>The packets of the rule's first counter expression, or null when it has none.</summary>
    private static ulong? CounterPackets(ReadOnlySpan<byte> expressions)
    {
        foreach (var element in new NetlinkAttributeReader(expressions))
        {
            if (element.Type != NFTA_LIST_ELEM) continue;
            var isCounter = false;
            ReadOnlySpan<byte> data = default;
            foreach (var field in element.Nested())
            {
                if (field.Type == NFTA_EXPR_NAME) isCounter = field.StringBytes().SequenceEqual("counter"u8);
                else if (field.Type == NFTA_EXPR_DATA) data = field.Payload;
            }
            if (!isCounter) continue;
            foreach (var field in new NetlinkAttributeReader(data))
                if (field.Type == NFTA_COUNTER_PACKETS) return field.U64BigEndian();
        }
        return null;
    }

    /// <summary>The family as nft names it (NFPROTO_*).</summary>
    public static string Family(byte family) => family switch
    {
        1 => "inet",
        2 => "ip",
        3 => "arp",
        5 => "netdev",
        7 => "bridge",
        10 => "ip6",
        _ => $"family{family}",
    };

    /// <summary>
    /// A table or chain name as one part of a counter name: at most <see cref="MaxPart"/> characters, and '.', '/',
    /// whitespace and control characters (which nft allows in quoted names) as '_', so parts stay apart.
    /// </summary>
    private static bool AppendPart(Span<char> name, ref int at, ReadOnlySpan<byte> utf8, char separator)
    {
        var text = Encoding.UTF8.GetString(utf8.Length > 4 * MaxPart ? utf8[..(4 * MaxPart)] : utf8);
        if (text.Length > MaxPart) text = text[..MaxPart];
        if (at + text.Length + 1 > name.Length) return false;
        foreach (var c in text)
            name[at++] = c is '.' or '/' || char.IsWhiteSpace(c) || char.IsControl(c) || char.IsSurrogate(c) ? '_' : c;
        name[at++] = separator;
        return true;
    }
}
