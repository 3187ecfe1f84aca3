using DropBoard.Agent.Uplink;

namespace DropBoard.Agent.Tests.Uplink;

public sealed class BackoffTests
{
    [Fact]
    public void Waits_double_up_to_the_ceiling_each_drawn_between_half_and_all_and_start_over_after_a_reset()
    {
        var backoff = new Backoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), new Random(7));
        var waits = Enumerable.Range(0, 12).Select(_ => backoff.Next().TotalSeconds).ToArray();
        double[] full = [1, 2, 4, 8, 16, 30, 30, 30, 30, 30, 30, 30];

        for (var i = 0; i < waits.Length; i++)
            Assert.InRange(waits[i], full[i] / 2, full[i]);
        Assert.True(waits[6..].Distinct().Count() > 1, "waits at the ceiling should not all be alike");
        backoff.Reset();
        Assert.InRange(backoff.Next().TotalSeconds, 0.5, 1);
    }
}
