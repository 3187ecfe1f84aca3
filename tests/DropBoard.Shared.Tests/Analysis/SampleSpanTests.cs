using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;

namespace DropBoard.Shared.Tests.Analysis;

public class SampleSpanTests
{
    private static readonly long[] Samples = [1_000, 2_003, 3_001, 4_004, 5_002];

    [Fact]
    public void The_span_ends_at_the_last_sample_and_starts_at_the_first_or_nearest_to_the_length()
    {
        Assert.Equal(new SampleSpan(1_000, 5_002), SampleSpan.Between(Samples, 0, 10_000));
        Assert.Equal(new SampleSpan(3_001, 5_002), SampleSpan.Between(Samples, 0, 10_000, 2_000));
        Assert.Equal(new SampleSpan(2_003, 4_004), SampleSpan.Between(Samples, 1_500, 4_500));
        Assert.Null(SampleSpan.Between(Samples, 1_500, 2_500));
        Assert.Null(SampleSpan.Between([], 0, 10_000));
    }

    [Fact]
    public void A_rise_belongs_to_the_span_it_ends_and_a_bucket_to_the_span_it_starts_in()
    {
        var span = new SampleSpan(2_003, 4_004);

        Assert.False(span.Holds(new CounterDelta("Udp.InErrors", 1, 2_003)));
        Assert.True(span.Holds(new CounterDelta("Udp.InErrors", 1, 4_004)));
        Assert.True(span.Holds(new DropBucket("f+0x1", "f", null, 2_003, 1)));
        Assert.False(span.Holds(new DropBucket("f+0x1", "f", null, 4_004, 1)));
        Assert.False(span.Holds(new DropBucket("f+0x1", "f", null, 1_990, 1)));
    }
}
