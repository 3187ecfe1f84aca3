namespace DropBoard.Shared.Analysis;

/// <summary>Advice of the verdict, said once, with the functions (or counters) it is for.</summary>
public sealed record VerdictAdvice(IReadOnlyList<string> Subjects, string What);

/// <summary>
/// The verdict of an <see cref="ExplainReport"/> as the dashboard's Explain panel and the agent's <c>watch</c> both say
/// it: the headline, one line per function that matters ("badge subject: line, since time."), then what to do, each
/// advice once. The words are <see cref="Verdicts"/>'; this only orders and joins them, so a terminal and a page agree.
/// </summary>
public static class VerdictText
{
    /// <summary>What to do, once per advice, in the order of the verdict's lines (a loss first).</summary>
    public static List<VerdictAdvice> Advice(IEnumerable<SiteVerdict> verdicts) =>
        verdicts.Where(v => v.WhatToDo is not null)
            .GroupBy(v => v.WhatToDo!, StringComparer.Ordinal)
            .Select(g => new VerdictAdvice(g.Select(v => v.Subject).Distinct(StringComparer.Ordinal).ToList(), g.Key))
            .ToList();

    /// <summary>The subjects of an advice as one label: "udp_queue_rcv_skb, udp_queue_rcv_one_skb".</summary>
    public static string Subjects(VerdictAdvice advice) => string.Join(", ", advice.Subjects);

    /// <summary>
    /// The verdict as plain lines: the headline (or why there is none), "Verdict:" lines "[badge] subject: line, since
    /// time." and "What to do:" lines. <paramref name="time"/> writes a <see cref="SiteVerdict.FirstMs"/> in the reader's clock.
    /// </summary>
    public static IEnumerable<string> Lines(ExplainReport report, Func<long, string> time)
    {
        yield return report.Headline ?? "Nothing to explain: no drops and no loss counter rose.";
        if (report.Verdicts.Count > 0)
        {
            yield return "Verdict:";
            foreach (var v in report.Verdicts)
                yield return $"  [{v.Badge}] {v.Subject}: {v.Line}{(v.FirstMs is { } first ? $", since {time(first)}" : "")}.";
        }
        var advice = Advice(report.Verdicts);
        if (advice.Count > 0)
        {
            yield return "What to do:";
            foreach (var a in advice)
                yield return $"  {Subjects(a)}: {a.What}.";
        }
    }
}
