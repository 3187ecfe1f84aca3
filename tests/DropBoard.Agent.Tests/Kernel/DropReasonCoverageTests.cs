using DropBoard.Agent.Capture.Tracepoint;
using DropBoard.Shared.Analysis;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Kernel;

/// <summary>
/// The knowledge table against the kernels' own lists of drop reasons: the running kernel's tracefs format (read
/// and parsed as the agent does) and the recorded formats of older kernels. A reason the table lacks fails here.
/// </summary>
public sealed class DropReasonCoverageTests
{
    [Fact]
    public void The_table_covers_every_drop_reason_of_the_running_kernel()
    {
        Privileged.RequireRoot();
        var reasons = Reasons(Tracefs.ReadFormat(Tracefs.Locate(), "skb", "kfree_skb"));

        Assert.True(reasons.Count > 20, $"the running kernel lists only {reasons.Count} drop reasons");
        Assert.Empty(reasons.Where(r => !KernelKnowledge.DropReasons.ContainsKey(r)));
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{Environment.OSVersion.Version}: {reasons.Count} reasons, {reasons.Count(r => KernelKnowledge.DropReasons.ContainsKey(r))} in the table, " +
            $"{reasons.Count(r => KernelKnowledge.DropReasons[r].Paths.Length > 0)} with counters");
    }

    [Theory]
    [InlineData("kfree_skb-format-6.1.txt")]
    [InlineData("kfree_skb-format-6.18.txt")]
    public void The_table_covers_every_drop_reason_of_recorded_kernels(string format)
    {
        var reasons = Reasons(TracepointFormat.Parse(Fixture.Text("tracepoint", format)));

        Assert.Empty(reasons.Where(r => !KernelKnowledge.DropReasons.ContainsKey(r)));
    }

    [Fact]
    public void Every_entry_names_counters_or_says_why_none_and_cites_kernel_sources()
    {
        Assert.All(KernelKnowledge.DropReasons.Values, e =>
        {
            Assert.Matches(@"^net/|^include/|^drivers/|^security/", e.Source);
            Assert.True(e.Paths.Length > 0 || !string.IsNullOrWhiteSpace(e.None), $"{e.Reason} names no counter and does not say why");
            Assert.All(e.Paths, p =>
            {
                Assert.NotEmpty(p.Counters);
                Assert.Matches(@"^(net|include|drivers)/\S+\.[ch] \w+", p.Source);
                Assert.True(p.Protocol is null or "IPv4" or "IPv6", $"{e.Reason}: protocol {p.Protocol}");
                Assert.All(p.Counters, c => Assert.Matches(@"^[A-Za-z0-9]+\.[A-Za-z0-9_.*]+$", c));
            });
        });
    }

    /// <summary>The reason names of a kfree_skb format, without the end marker MAX (not a reason).</summary>
    private static List<string> Reasons(TracepointFormat format) =>
        format.ReasonNames.Values.Where(n => n != "MAX").Distinct().ToList();
}
