using DropBoard.Agent.Netlink;
using DropBoard.Agent.Capture.NetDm;

namespace DropBoard.Agent.Tests.Capture.NetDm;

public sealed class NetlinkAttributeReaderTests
{
    [Fact]
    public void Reads_attributes_with_their_padding_and_nesting()
    {
        byte[] bytes =
        [
            5, 0, 1, 0, 7, 0, 0, 0,           // type 1, u8 7, 3 bytes of padding
            12, 0, 4, 0x80,                   // type 4 nested (NLA_F_NESTED)
            8, 0, 0, 0, 42, 0, 0, 0,          //   type 0, u32 42
            6, 0, 3, 0, (byte)'l', (byte)'o', // type 3, "lo" without a terminator, at the very end
        ];
        var seen = new List<string>();
        foreach (var a in new NetlinkAttributeReader(bytes))
        {
            if (a.Type == 1) seen.Add($"u8 {a.U8()}");
            if (a.Type == 4) foreach (var n in a.Nested()) seen.Add($"nested {n.Type}={n.U32()}");
            if (a.Type == 3) seen.Add($"string {a.String()}");
        }
        Assert.Equal(["u8 7", "nested 0=42", "string lo"], seen);
    }

    [Theory]
    [InlineData(new byte[] { 3, 0, 1, 0 }, "claims 3 bytes")]
    [InlineData(new byte[] { 40, 0, 1, 0, 0, 0, 0, 0 }, "claims 40 bytes with 8 left")]
    [InlineData(new byte[] { 8, 0, 1, 0, 0, 0, 0, 0, 9, 9 }, "2 trailing bytes")]
    public void Lengths_that_do_not_fit_are_parse_errors_that_name_the_problem(byte[] bytes, string expected)
    {
        var e = Assert.Throws<NetlinkParseException>(() =>
        {
            foreach (var _ in new NetlinkAttributeReader(bytes)) { }
        });
        Assert.Contains(expected, e.Message);
    }

    [Fact]
    public void A_value_larger_than_its_attribute_is_a_parse_error_not_a_read_past_it()
    {
        byte[] bytes = [6, 0, 2, 0, 1, 2];
        var e = Assert.Throws<NetlinkParseException>(() =>
        {
            foreach (var a in new NetlinkAttributeReader(bytes)) a.U64();
        });
        Assert.Contains("holds 2 bytes, a 8-byte value was expected", e.Message);
    }
}
