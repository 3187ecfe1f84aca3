using DropBoard.Web.Live;
using static DropBoard.Web.Live.SequenceWindow.Verdict;

namespace DropBoard.Web.Tests.Live;

/// <summary>The de-duplication window of one agent instance: what is a repeat, what is new, what is being stored.</summary>
public sealed class SequenceWindowTests
{
    [Fact]
    public void It_starts_at_the_first_sequence_seen_so_an_agent_that_ran_for_days_is_taken_from_where_it_is()
    {
        var window = new SequenceWindow();
        foreach (var sequence in new long[] { 500_000, 500_001, 500_002 }) Take(window, sequence);

        Assert.Equal(Repeat, window.Begin(500_001));
        Assert.Equal(New, window.Begin(500_003));
    }

    [Fact]
    public void A_batch_being_stored_is_neither_new_nor_a_repeat_until_it_is_taken_or_abandoned()
    {
        var window = new SequenceWindow();
        Assert.Equal(New, window.Begin(7));
        Assert.Equal(Storing, window.Begin(7));
        Assert.True(window.Busy);

        // Could not be stored: the resend is new.
        window.Abandon(7);
        Assert.False(window.Busy);
        Assert.Equal(New, window.Begin(7));
        window.Take(7);
        Assert.Equal(Repeat, window.Begin(7));
    }

    [Fact]
    public void Gaps_never_set_the_window_back_and_a_batch_refused_before_later_ones_were_taken_is_still_new()
    {
        var window = new SequenceWindow();
        for (long sequence = 1; sequence <= 10; sequence++) Take(window, sequence);
        // 11 was set aside as malformed, 12 to 40 evicted from the agent's spool: never sent.
        for (long sequence = 41; sequence <= 5000; sequence++) Take(window, sequence);
        Assert.Equal(Repeat, window.Begin(4999));
        Assert.Equal(New, window.Begin(5001));
        window.Abandon(5001);

        // Refused (retry) while 5002 was taken: its resend is taken.
        Assert.Equal(New, window.Begin(5001));
        Take(window, 5002);
        window.Take(5001);
        Assert.Equal(Repeat, window.Begin(5001));
        Assert.Equal(Repeat, window.Begin(5002));
    }

    [Fact]
    public void A_sequence_further_back_than_the_span_is_a_repeat_and_slots_reused_past_a_jump_are_new()
    {
        var window = new SequenceWindow();
        Take(window, 1);
        Take(window, 2);
        // A jump of more than the span: the slots of 1 and 2 now stand for sequences not taken yet.
        Take(window, 2 + SequenceWindow.Span * 3);
        Assert.Equal(Repeat, window.Begin(2));
        Assert.Equal(New, window.Begin(1 + SequenceWindow.Span * 3));
        Assert.Equal(Repeat, window.Begin(2 + SequenceWindow.Span * 3));
    }

    private static void Take(SequenceWindow window, long sequence)
    {
        Assert.Equal(New, window.Begin(sequence));
        window.Take(sequence);
    }
}
