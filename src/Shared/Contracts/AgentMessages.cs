using System.Text.Json.Serialization;

namespace DropBoard.Shared.Contracts;

// Everything an agent sends to the hub. Times are Unix epoch milliseconds (buckets, deltas)
// or nanoseconds (raw samples), on the agent's wall clock, so drops and counters line up.
// A batch travels packed (CBOR, see BatchPacking): each record an array of its members in declaration order, so a new
// member goes at the end of its record, and BatchPacking learns it (its tests fail until it does).

/// <summary>First message of a connection: who the host is and how it captures.</summary>
/// <param name="InstanceId">New each time an agent starts: sequence numbers count from 1 again within it.</param>
/// <param name="LostRecordsFix">
/// The setting to raise when the source loses records, with its value now (<c>raise --ring-kb (now 4096 KiB per CPU)</c>);
/// null when the source has none to raise (or the agent is older).
/// </param>
public sealed record AgentHello(
    string HostId,
    string HostName,
    string KernelRelease,
    string Source,
    string AgentVersion,
    int BucketMs,
    string InstanceId = "",
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LostRecordsFix = null);

/// <summary>Drops at one site, for one reason and protocol, in one bucket [StartMs, StartMs + bucket).</summary>
/// <param name="Site">Canonical site text, <c>function+0xoffset</c> (see <see cref="Sites.DropSite"/>).</param>
/// <param name="Reason">Kernel drop-reason name (<c>SOCKET_RCVBUFF</c>), or null when the source has none (old kernels, NET_DM summary mode).</param>
/// <param name="Protocol">EtherType of the dropped packets (<c>0x0800</c> IPv4, <c>0x86DD</c> IPv6), 0 when the source does not say.</param>
/// <param name="Netns">Inode of the network namespace the packets were dropped in, 0 when the source does not say (only bpf does).</param>
/// <param name="NetnsName">That namespace's <c>ip netns</c> name or container id, when the agent knows one.</param>
public sealed record DropBucket(string Site, string Function, string? Reason, long StartMs, long Count, ushort Protocol = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NetnsName = null);

/// <summary>One dropped packet as seen in detail (NET_DM packet mode, or a sampled tracepoint record).</summary>
public sealed record DropSample(
    long TimestampNs,
    string Site,
    string Function,
    string? Reason,
    ushort Protocol,
    string? InPort,
    int OriginalLength,
    byte[]? Header);

/// <summary>
/// Flows of the dropped packets at one site in one network namespace during a batch (bpf source, when it samples):
/// the kernel sends the headers of at most a set number of drops a second, and counts how many it did not.
/// </summary>
/// <param name="Sampled">Drops whose headers were sampled; <see cref="Top"/> names the flows of those read so far.</param>
/// <param name="NotSampled">Drops at this site not sampled (over the rate cap, or the ring full): never hidden.</param>
/// <param name="Top">The most-dropped flows among the sampled ones, most first, at most <see cref="MaxTop"/>.</param>
public sealed record FlowSite(string Site, string Function, long Sampled, long NotSampled, IReadOnlyList<DroppedFlow> Top,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NetnsName = null)
{
    public const int MaxTop = 10;
}

/// <summary>One flow's sampled drops: its 5-tuple and the interface it was seen on.</summary>
/// <param name="IpProtocol">IP protocol number: 6 TCP, 17 UDP, 58 ICMPv6 (ports are 0 where it has none).</param>
/// <param name="Source">Address text (<c>10.0.0.1</c>, <c>fd00::1</c>).</param>
/// <param name="Ifindex">Interface index in the flow's namespace, 0 when the kernel did not say.</param>
public sealed record DroppedFlow(byte IpProtocol, string Source, ushort SourcePort, string Destination, ushort DestinationPort, long Count, int Ifindex = 0);

/// <summary>
/// The kernel stacks that led to one site's drops in one network namespace during a batch (bpf source with
/// <c>--stacks</c>): every drop of the site is on one path, so <see cref="Top"/>'s drops and <see cref="Other"/> make
/// <see cref="Drops"/>.
/// </summary>
/// <param name="Top">The paths most drops took, most first, at most <see cref="MaxTop"/>.</param>
/// <param name="Other">Drops on paths past the top ones.</param>
public sealed record PathSite(string Site, string Function, long Drops, IReadOnlyList<StackPath> Top, long Other,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? NetnsName = null)
{
    public const int MaxTop = 5;
}

/// <summary>One path to a drop site: its frames from the site outwards, and the drops that took it.</summary>
/// <param name="Frames">Return addresses as sites (<c>udp_queue_rcv_one_skb+0x437</c>), the drop site first, at most <see cref="MaxFrames"/>.</param>
/// <param name="Missing">Why the drops have no stack (<c>EEXIST</c>: another stack holds its slot in the kernel's stack
/// map; <c>ENOMEM</c>: the map is full), null when they have one.</param>
public sealed record StackPath(IReadOnlyList<string> Frames, long Drops,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Missing = null)
{
    public const int MaxFrames = 16;
}

/// <summary>How much a kernel counter rose during [AtMs - interval, AtMs). Never negative: wraps and resets are resolved by the sampler.</summary>
/// <param name="Name">
/// Group and counter, <c>Udp.RcvbufErrors</c>, <c>TcpExt.ListenOverflows</c>, <c>Softnet.dropped</c>, <c>Dev.eth0.rx_dropped</c>,
/// <c>Qdisc.eth0.8001:.dropped</c>, <c>Netfilter.ip.filter.INPUT.5</c> (a rule's packets), <c>Conntrack.insert_failed</c>.
/// </param>
/// <param name="Netns">
/// Inode of the network namespace the counter was read in, when the agent reads counters per namespace (its drops carry
/// namespaces: the bpf source); 0 otherwise. A counter is held only to the drops of its own namespace.
/// </param>
public sealed record CounterDelta(string Name, long Delta, long AtMs,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] uint Netns = 0);

/// <summary>One uplink message. Sequence rises by one per batch per agent; the hub drops repeats, so resends are safe.</summary>
/// <param name="LostRecords">Records the kernel could not hand to the agent during this batch (perf ring overflow, NET_DM queue drops).</param>
/// <param name="SamplesSuppressed">Raw samples not sent because of the per-second cap.</param>
/// <param name="Frees">Normal frees (skb:consume_skb) per site, when the agent counts them; never drops.</param>
/// <param name="BatchesDiscarded">Batches the agent made since the one before this and had to discard: its spool could not
/// take them and its memory backlog was full. Their drops and counter deltas never reach the dashboard.</param>
/// <param name="DropsDiscarded">Kernel drops counted in those discarded batches.</param>
/// <param name="SpoolProblem">Why the agent's spool cannot keep batches right now (<c>No space left on device</c>), null while it can:
/// batches wait in the agent's memory meanwhile, and are discarded past its bound.</param>
/// <param name="Flows">Dropped flows per site (bpf source sampling flows); null when the agent samples none.</param>
/// <param name="Paths">The kernel stacks that led to each site's drops (bpf source with --stacks); null without.</param>
/// <param name="CounterTexts">
/// What a counter counts, in words, by counter name: a netfilter rule's text for <c>Netfilter.ip.filter.INPUT.5</c>.
/// Sent when the counter first appears or its text changes; null (older agents, nothing new) when none did.
/// </param>
public sealed record AgentBatch(
    string HostId,
    long Sequence,
    long SentAtMs,
    IReadOnlyList<DropBucket> Drops,
    IReadOnlyList<CounterDelta> Counters,
    IReadOnlyList<DropSample> Samples,
    long LostRecords,
    long SamplesSuppressed,
    IReadOnlyList<DropBucket>? Frees = null,
    long BatchesDiscarded = 0,
    long DropsDiscarded = 0,
    string? SpoolProblem = null,
    IReadOnlyDictionary<string, string>? CounterTexts = null,
    IReadOnlyList<FlowSite>? Flows = null,
    IReadOnlyList<PathSite>? Paths = null);
