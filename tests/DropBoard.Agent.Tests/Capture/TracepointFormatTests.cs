using DropBoard.Agent.Capture.Tracepoint;

namespace DropBoard.Agent.Tests.Capture;

public class TracepointFormatTests
{
    [Fact]
    public void Reads_the_6_18_layout_with_rx_sk_and_reason_and_every_reason_name()
    {
        var format = TracepointFormat.Parse(Fixture.Text("tracepoint", "kfree_skb-format-6.18.txt"));
        var layout = KfreeSkbLayout.From(format);

        Assert.Equal(2310, format.Id);
        Assert.Equal(new KfreeSkbLayout(2310, LocationOffset: 16, ProtocolOffset: 32, ReasonOffset: 36, ReasonSize: 4, MinimumRawSize: 40), layout);
        Assert.Equal(24, format.Fields["rx_sk"].Offset);
        Assert.Equal("SOCKET_RCVBUFF", format.ReasonNames[6]);
        Assert.Equal("NOT_SPECIFIED", format.ReasonNames[2]);
        Assert.Equal(127, format.ReasonNames.Count);
    }

    [Fact]
    public void Reads_the_6_1_layout_where_reason_numbers_differ()
    {
        var format = TracepointFormat.Parse(Fixture.Text("tracepoint", "kfree_skb-format-6.1.txt"));
        var layout = KfreeSkbLayout.From(format);

        Assert.False(format.Fields.ContainsKey("rx_sk"));
        Assert.Equal((24, 28), (layout.ProtocolOffset, layout.ReasonOffset));
        Assert.Equal("SOCKET_RCVBUFF", format.ReasonNames[15]);
        Assert.Equal("NOT_SPECIFIED", format.ReasonNames[1]);
    }

    [Fact]
    public void A_kernel_before_5_17_has_no_reason_and_still_decodes()
    {
        var layout = KfreeSkbLayout.From(TracepointFormat.Parse(Fixture.Text("tracepoint", "kfree_skb-format-5.10.txt")));

        Assert.False(layout.HasReason);
        Assert.Equal((16, 24, 26), (layout.LocationOffset, layout.ProtocolOffset, layout.MinimumRawSize));
    }

    [Fact]
    public void Consume_skb_is_not_mistaken_for_a_drop_layout()
    {
        var format = TracepointFormat.Parse(Fixture.Text("tracepoint", "consume_skb-format-6.18.txt"));

        var e = Assert.Throws<FormatException>(() => KfreeSkbLayout.From(format));
        Assert.Contains("'protocol'", e.Message);
    }

    [Theory]
    [InlineData("", "no 'name:' line")]
    [InlineData("name: kfree_skb\nID: 1\nformat:\n", "has no fields")]
    [InlineData("name: kfree_skb\nID: x\n", "bad ID")]
    [InlineData("name: kfree_skb\nformat:\n\tfield:void * location;\toffset:sixteen;\tsize:8;\tsigned:0;\n", "cannot read field")]
    public void Garbled_formats_are_refused_with_the_reason(string text, string reason)
    {
        var e = Assert.Throws<FormatException>(() => TracepointFormat.Parse(text));
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Unknown_extra_fields_are_carried_and_a_wrong_sized_location_is_refused()
    {
        var text = Fixture.Text("tracepoint", "kfree_skb-format-6.18.txt")
            .Replace("field:void * location;\toffset:16;\tsize:8;", "field:u32 location;\toffset:16;\tsize:4;")
            .Replace("format:\n", "format:\n\tfield:u64 future_field;\toffset:40;\tsize:8;\tsigned:0;\n");
        var format = TracepointFormat.Parse(text);

        Assert.True(format.Fields.ContainsKey("future_field"));
        var e = Assert.Throws<FormatException>(() => KfreeSkbLayout.From(format));
        Assert.Contains("'location' has size 4", e.Message);
    }
}
