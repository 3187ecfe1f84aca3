using System.Text.Json.Serialization;
using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Views;

/// <summary>
/// A counter's rise over a view, with what it counts when its agent said so (a netfilter rule's text,
/// <see cref="AgentBatch.CounterTexts"/>): live and session counters alike.
/// </summary>
/// <param name="Netns">The network namespace it was read in, when the agent reads counters per namespace (bpf source).</param>
public sealed record CounterRise(
    string Name, long Delta, long AtMs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Text,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0)
{
    public static List<CounterRise> Of(IEnumerable<CounterDelta> counters, IReadOnlyDictionary<string, string> texts) =>
        counters.Select(c => new CounterRise(c.Name, c.Delta, c.AtMs, texts.GetValueOrDefault(c.Name), c.Netns)).ToList();
}
