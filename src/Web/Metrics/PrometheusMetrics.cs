using System.Collections.Concurrent;
using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;
using DropBoard.Shared.Packets;
using DropBoard.Web.Live;
using DropBoard.Web.Views;
using Prometheus;

namespace DropBoard.Web.Metrics;

/// <summary>
/// What <c>/metrics</c> serves: every accepted batch's drops, loss-counter rises and lost records as Prometheus
/// counters, the agents' connection state, and the hub's answers. Fed through the batch door like the live store, so
/// a counter here is the sum of exactly the drops the dashboard shows.
/// </summary>
/// <remarks>
/// Its own registry: only these families and the basic process ones (<see cref="DotNetStats"/>: CPU, memory, GC,
/// threads, handles, start time) are served. prometheus-net's default registry would also republish every .NET meter
/// and event counter in the process (request routes, authentication schemes and policies, DNS names looked up, and
/// whatever a library adds next), which nobody reviewed for a viewer's eyes.
/// <para/>
/// Labels come from the network, so they are cut to <see cref="MaxLabelLength"/> and each host has at most
/// <see cref="MaxSeriesPerHost"/> drop series and as many counter series; more are summed as <c>other</c>, so a host
/// with a storm of sites or interfaces cannot blow up Prometheus. prometheus-net escapes the values.
/// </remarks>
public sealed class PrometheusMetrics : IBatchListener
{
    /// <summary>(function, reason, protocol) series per host, and loss-counter series per host, before <c>other</c>.</summary>
    public const int MaxSeriesPerHost = 200;

    /// <summary>A DNS name fits (253); a longer label is cut and ends with '…'.</summary>
    public const int MaxLabelLength = 256;

    /// <summary>The reason label of drops whose source names none (old kernels, NET_DM summary mode); kernel reasons are upper case.</summary>
    public const string NoReason = "none";

    public const string Other = TimeSeries.Other;

    public CollectorRegistry Registry { get; } = Prometheus.Metrics.NewCustomRegistry();

    private readonly Counter _drops, _counters, _lost, _discardedBatches, _discardedDrops, _batches, _notStored;
    private readonly Gauge _connected;
    private readonly Counter.Child _accepted, _duplicate, _rejected, _retry;
    private readonly ConcurrentDictionary<string, HostSeries> _hosts = new(StringComparer.Ordinal);

    public PrometheusMetrics(LiveStore store)
    {
        var factory = Prometheus.Metrics.WithCustomRegistry(Registry);
        // No trace ids as exemplars: there is no trace to link to, and taking one costs on every drop bucket.
        factory.ExemplarBehavior = ExemplarBehavior.NoExemplars();
        _drops = factory.CreateCounter("dropboard_drops_total",
            $"Packets the kernel dropped, by host, function (no offset), reason ('{NoReason}' when the source names none) and EtherType; '{Other}' beyond {MaxSeriesPerHost} series a host.",
            "host", "function", "reason", "protocol");
        _counters = factory.CreateCounter("dropboard_kernel_counter_total",
            $"Sum of the rises of a kernel loss counter (Group.Name, as Udp.RcvbufErrors) since the dashboard started; '{Other}' beyond {MaxSeriesPerHost} counters a host.",
            "host", "counter");
        _lost = factory.CreateCounter("dropboard_agent_lost_records_total",
            "Drop records the kernel could not hand to the agent (perf ring overflow, NET_DM queue drops): drops missing from dropboard_drops_total.",
            "host");
        _discardedBatches = factory.CreateCounter("dropboard_agent_discarded_batches_total",
            "Batches an agent had to discard (its spool and memory backlog were full) and told of in a later batch: never delivered.", "host");
        _discardedDrops = factory.CreateCounter("dropboard_agent_discarded_drops_total",
            "Kernel drops in the batches an agent discarded: drops missing from dropboard_drops_total.", "host");
        _connected = factory.CreateGauge("dropboard_agent_connected", "1 while the host's agent is connected, 0 after its connection ended.", "host");
        _batches = factory.CreateCounter("dropboard_batches_total",
            "Agent batches: accepted, duplicate (a resend already counted), retry (could not be stored now: the agent keeps it and sends it again) or rejected.", "result");
        _notStored = factory.CreateCounter("dropboard_batches_not_stored_total",
            "Batches answered retry and never sent again: missing from the host's recording sessions (each session names them as a gap).", "host");
        _accepted = _batches.WithLabels("accepted");
        _duplicate = _batches.WithLabels("duplicate");
        _rejected = _batches.WithLabels("rejected");
        _retry = _batches.WithLabels("retry");
        DotNetStats.Register(Registry);
        // Connection state lives in the live store (the hub tells it of a closed connection); read it at each scrape.
        Registry.AddBeforeCollectCallback(() =>
        {
            foreach (var host in store.Hosts().GroupBy(h => Label(h.HostName), StringComparer.Ordinal))
                _connected.WithLabels(host.Key).Set(host.Any(h => h.Connected) ? 1 : 0);
        });
    }

    public ValueTask OnBatchAsync(AgentHello host, AgentBatch batch, CancellationToken cancellationToken)
    {
        _accepted.Inc();
        var series = _hosts.GetOrAdd(Label(host.HostName), static (n, metrics) => new HostSeries(metrics, n), this);
        lock (series)
        {
            foreach (var d in batch.Drops)
                series.Drop(d.Function, d.Reason, d.Protocol).Inc(d.Count);
            foreach (var c in batch.Counters)
                series.Counter(c.Name)?.Inc(c.Delta);
        }
        if (batch.LostRecords > 0) series.Lost.Inc(batch.LostRecords);
        if (batch.BatchesDiscarded > 0) _discardedBatches.WithLabels(series.Host).Inc(batch.BatchesDiscarded);
        if (batch.DropsDiscarded > 0) _discardedDrops.WithLabels(series.Host).Inc(batch.DropsDiscarded);
        return ValueTask.CompletedTask;
    }

    /// <summary>Counts the hub's answer when it was a repeat or a refusal (accepted batches are counted as they arrive), and returns it.</summary>
    public BatchAck Answered(BatchAck ack)
    {
        if (ack.Rejection == BatchRejection.Retry) _retry.Inc();
        else if (ack.Rejection != BatchRejection.None) _rejected.Inc();
        else if (ack.Duplicate) _duplicate.Inc();
        return ack;
    }

    /// <summary>A batch of this host was answered "retry" and never sent again: the sessions it was for miss it.</summary>
    public void NotStored(string hostName) => _notStored.WithLabels(Label(hostName)).Inc();

    private static string Label(string text) =>
        text.Length <= MaxLabelLength ? text : string.Concat(text.AsSpan(0, MaxLabelLength - 1), "…");

    /// <summary>One host's series, each made once and then found by its raw key; the caller holds the lock.</summary>
    private sealed class HostSeries
    {
        private readonly PrometheusMetrics _metrics;
        private readonly string _host;
        private readonly Dictionary<(string Function, string? Reason, ushort Protocol), Counter.Child> _drops = [];
        private readonly Dictionary<string, Counter.Child> _counters = new(StringComparer.Ordinal);
        private Counter.Child? _otherDrops, _otherCounters;

        public Counter.Child Lost { get; }
        public string Host => _host;

        public HostSeries(PrometheusMetrics metrics, string host)
        {
            _metrics = metrics;
            _host = host;
            Lost = metrics._lost.WithLabels(host);
            // The counters drops are known to feed start at 0, so the first rise is a rise to Prometheus too.
            foreach (var name in KernelKnowledge.LossCounters) Counter(name);
        }

        public Counter.Child Drop(string function, string? reason, ushort protocol)
        {
            if (_drops.TryGetValue((function, reason, protocol), out var child)) return child;
            if (_drops.Count >= MaxSeriesPerHost)
                return _otherDrops ??= _metrics._drops.WithLabels(_host, Other, Other, Other);
            return _drops[(function, reason, protocol)] = _metrics._drops.WithLabels(
                _host, Label(function), string.IsNullOrEmpty(reason) ? NoReason : Label(reason), EtherType.Name(protocol));
        }

        /// <summary>The series of a loss counter; null for the others (traffic, not loss), which are not served.</summary>
        public Counter.Child? Counter(string name)
        {
            if (_counters.TryGetValue(name, out var child)) return child;
            if (!CounterAttributor.IsLossCounter(name)) return null;
            if (_counters.Count >= MaxSeriesPerHost)
                return _otherCounters ??= _metrics._counters.WithLabels(_host, Other);
            return _counters[name] = _metrics._counters.WithLabels(_host, Label(name));
        }
    }
}
