using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;

using DropBoard.Web.Views;

namespace DropBoard.Web.Live;

/// <summary>
/// Everything the live host page shows, read from the live store for one host, window and filter. The page
/// holds one, sets the filter and calls <see cref="Refresh"/>; the page itself only lays it out.
/// </summary>
public sealed class HostLiveView(LiveStore store)
{
    public static readonly int[] Windows = [60, 300, 900];

    public string HostId { get; set; } = "";
    public int WindowSeconds { get; set; } = 60;
    public DropFilter Filter { get; set; } = DropFilter.None;

    public HostStatus? Host { get; private set; }
    /// <summary>When <see cref="Refresh"/> last read the store: with <see cref="HostStatus.LastBatch"/>, where a drop's way to the screen waits.</summary>
    public DateTimeOffset RefreshedAt { get; private set; }
    public IReadOnlyList<FunctionRow> Rows { get; private set; } = [];
    public IReadOnlyList<string> Reasons { get; private set; } = [];
    public IReadOnlyList<string> Protocols { get; private set; } = [];
    /// <summary>The network namespaces the host's drops and counters came from (bpf source); empty otherwise.</summary>
    public IReadOnlyList<NetnsLabel> Namespaces { get; private set; } = [];
    public IReadOnlyList<CounterDelta> LossCounters { get; private set; } = [];
    public IReadOnlyList<CounterDelta> TrafficCounters { get; private set; } = [];
    public IReadOnlyDictionary<string, string> CounterTexts { get; private set; } = new Dictionary<string, string>();
    public TimeSeries DropsOverTime { get; private set; } = new([], []);
    public TimeSeries CountersOverTime { get; private set; } = new([], []);
    public ExplainReport? Explanation { get; private set; }
    public long WindowStartMs { get; private set; }
    public long WindowEndMs { get; private set; }
    public long TotalDrops { get; private set; }
    /// <summary>Functions of non-network frees the filter leaves out (<see cref="DropFilter.NonNetwork"/>), for the histogram's switch.</summary>
    public int HiddenNonNetwork { get; private set; }

    public TimeSpan Window => TimeSpan.FromSeconds(WindowSeconds);

    /// <summary>How a namespace is named on the page: its name and inode, or the inode alone; nothing without one.</summary>
    public string? NetnsText(uint netns) =>
        netns == 0 ? null : (Namespaces.FirstOrDefault(n => n.Netns == netns) ?? new NetnsLabel(netns, null)).ToString();

    public void Refresh()
    {
        RefreshedAt = store.Now;
        Host = store.Host(HostId);
        if (Host is null) return;

        var unfiltered = store.Sites(HostId, Window);
        Reasons = unfiltered.Select(s => s.Reason ?? "-").Distinct().Order(StringComparer.Ordinal).ToList();
        Protocols = unfiltered.Select(s => s.Protocol).Distinct().Order(StringComparer.Ordinal).ToList();
        var all = store.Sites(HostId, Window, Filter with { NonNetwork = true });
        var sites = all.Where(s => Filter.Matches(s.Site, s.Reason, s.Protocol, s.Netns)).ToList();
        HiddenNonNetwork = all.Where(s => !Filter.NonNetwork && NonNetworkFrees.Is(s.Function)).Select(s => s.Function).Distinct().Count();
        TotalDrops = sites.Sum(s => s.Count);
        Rows = DropHistogram.ByFunction(sites, Window);

        Namespaces = store.Namespaces(HostId);
        var counters = store.Counters(HostId, Window).Where(c => Filter.MatchesNetns(c.Netns)).ToList();
        LossCounters = counters.Where(c => CounterAttributor.IsLossCounter(c.Name)).ToList();
        TrafficCounters = counters.Where(c => !CounterAttributor.IsLossCounter(c.Name)).ToList();
        CounterTexts = store.CounterTexts(HostId);
        DropsOverTime = store.DropsOverTime(HostId, Window, Filter);
        CountersOverTime = store.CountersOverTime(HostId, Window, LossCounters.OrderByDescending(c => c.Delta).Take(6).Select(c => c.Name).Distinct().ToList(), Filter);
        WindowStartMs = DropsOverTime.Seconds.Length > 0 ? DropsOverTime.Seconds[0] * 1000 : 0;
        WindowEndMs = DropsOverTime.Seconds.Length > 0 ? DropsOverTime.Seconds[^1] * 1000 + 999 : 0;

        var input = store.ExplainInput(HostId, Window);
        Explanation = ViewExplanation.Explain(input.Drops, input.Counters, Filter, Host.KernelRelease, input.BucketMs, input.Span);
    }
}
