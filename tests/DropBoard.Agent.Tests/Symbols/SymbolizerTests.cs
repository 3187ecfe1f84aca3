using DropBoard.Agent.Capture;
using DropBoard.Agent.Symbols;
using DropBoard.Shared.Sites;

namespace DropBoard.Agent.Tests.Symbols;

public class SymbolizerTests
{
    private const string Kallsyms = """
        ffffffff81000000 T _stext
        ffffffff82046a90 T __udp4_lib_rcv
        ffffffff820454f0 t udp_queue_rcv_one_skb
        ffffffff82100000 D some_data
        ffffffffc0a01000 t nf_hook_slow_helper	[nf_conntrack]
        ffffffffc0a02000 t nft_do_chain	[nf_tables]
        """;

    [Fact]
    public void Resolves_a_return_address_to_function_plus_offset_as_dropwatch_does()
    {
        var symbols = Symbolizer.FromText(Kallsyms);

        Assert.Equal(new DropSite("udp_queue_rcv_one_skb", 0x437), symbols.Resolve(0xffffffff820454f0 + 0x437));
        Assert.Equal("__udp4_lib_rcv+0x4bc", symbols.Resolve(0xffffffff82046a90 + 0x4bc).ToString());
    }

    [Fact]
    public void Keeps_module_names_and_ignores_data_symbols()
    {
        var symbols = Symbolizer.FromText(Kallsyms);

        Assert.Equal("nft_do_chain+0x10 [nf_tables]", symbols.Resolve(0xffffffffc0a02010).ToString());
        Assert.Equal("__udp4_lib_rcv", symbols.Resolve(0xffffffff82100010).Function);
    }

    [Fact]
    public void An_address_below_every_symbol_stays_an_address()
    {
        Assert.Equal("0x1000+0x0", Symbolizer.FromText(Kallsyms).Resolve(0x1000).ToString());
    }

    [Fact]
    public void A_kallsyms_with_zeroed_addresses_says_why_and_how_to_fix()
    {
        var hidden = string.Join('\n', Kallsyms.Split('\n').Select(l => "0000000000000000" + l[16..]));

        var e = Assert.Throws<CaptureUnavailableException>(() => Symbolizer.FromText(hidden));
        Assert.Contains("zero", e.Message);
        Assert.Contains("kptr_restrict", e.Fix);
    }

    [Fact]
    public void Text_without_symbols_is_refused()
    {
        Assert.Throws<CaptureUnavailableException>(() => Symbolizer.FromText("garbage\nmore garbage"));
    }
}
