using DropBoard.Shared.Sites;

namespace DropBoard.Shared.Tests;

public class DropSiteTests
{
    [Theory]
    [InlineData("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", 0x437ul, null)]
    [InlineData("udp_queue_rcv_skb+218", "udp_queue_rcv_skb", 0x218ul, null)]
    [InlineData("net_tx_action+0", "net_tx_action", 0ul, null)]
    [InlineData("kfree_skb_reason+0x9c/0x1a0", "kfree_skb_reason", 0x9cul, null)]
    [InlineData("nf_hook_slow+0x45 [nf_conntrack]", "nf_hook_slow", 0x45ul, "nf_conntrack")]
    public void Parses_the_forms_dropwatch_perf_and_DropBoard_print(string text, string function, ulong offset, string? module)
    {
        Assert.True(DropSite.TryParse(text, out var site));
        Assert.Equal(new DropSite(function, offset, module), site);
    }

    [Theory]
    [InlineData("")]
    [InlineData("no_offset")]
    [InlineData("+0x10")]
    [InlineData("f+0xzz")]
    [InlineData("f+1 [mod")]
    public void Rejects_text_that_is_not_a_site(string text) => Assert.False(DropSite.TryParse(text, out _));

    [Fact]
    public void Prints_hex_offsets_with_prefix_and_module_in_brackets()
    {
        Assert.Equal("udp_queue_rcv_skb+0x218", new DropSite("udp_queue_rcv_skb", 0x218).ToString());
        Assert.Equal("nf_hook_slow+0x45 [nf_conntrack]", new DropSite("nf_hook_slow", 0x45, "nf_conntrack").ToString());
    }

    [Theory]
    [InlineData("udp_queue_rcv_skb+0x218", true)]
    [InlineData("nf_hook_slow+0x45 [nf_conntrack]", true)]
    [InlineData("net_tx_action+0x0", true)]
    [InlineData("udp_queue_rcv_skb+218", false)]
    [InlineData("udp_queue_rcv_skb+0x0218", false)]
    [InlineData("udp_queue_rcv_skb+0x218A", false)]
    [InlineData("udp_queue_rcv_skb+0X218", false)]
    [InlineData("nf_hook_slow+0x45  [nf_conntrack]", false)]
    [InlineData("nf_hook_slow+0x45 [nf_conntrack] ", false)]
    [InlineData("nf_hook_slow+0x4F", false)]
    public void Knows_its_own_text_form_exactly_as_it_prints_it(string text, bool written)
    {
        Assert.True(DropSite.TryParse(text, out var site));
        Assert.Equal(written, site.IsWrittenAs(text));
        Assert.Equal(site.ToString() == text, site.IsWrittenAs(text));
    }
}
