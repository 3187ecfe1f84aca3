namespace DropBoard.Web.Sessions.Import;

/// <summary>
/// How much one import may carry. Imports come from users, so each bound is checked before anything is stored;
/// each is far above what a real capture needs, and together they keep one import from filling the database or
/// holding the dashboard busy.
/// </summary>
public static class ImportLimits
{
    /// <summary>The file itself: dropwatch or perf script text, or a DropBoard export.</summary>
    public const int MaxFileBytes = 64 << 20;

    /// <summary>Each <c>netstat -su</c> text; a whole one is a few kilobytes.</summary>
    public const int MaxNetstatBytes = 1 << 20;

    /// <summary>Lines of a text file. A text format makes at most one drop bucket per line.</summary>
    public const int MaxLines = 1_000_000;

    /// <summary>dropwatch, perf script and netstat lines are a few hundred characters at most.</summary>
    public const int MaxLineLength = 4096;

    /// <summary>
    /// Distinct (site, reason, protocol): each is a row of the sites table all sessions share. A kernel drops at a
    /// few hundred sites.
    /// </summary>
    public const int MaxSites = 10_000;

    public const int MaxBuckets = 1_000_000;
    public const int MaxCounters = 1_000_000;

    /// <summary>What a session keeps of one host; the store keeps no more.</summary>
    public const int MaxSamplesPerHost = 10_000;

    /// <summary>Counter texts (netfilter rules') a session keeps of one host: twice the rules an agent reads.</summary>
    public const int MaxCounterTextsPerHost = 8192;

    /// <summary>Dropped-flow sites (site, namespace) a session keeps of one host; the drops of more are added up in one row.</summary>
    public const int MaxFlowSitesPerHost = 5000;

    /// <summary>Distinct flows a session keeps of one flow site.</summary>
    public const int MaxFlowsPerSite = 100;

    /// <summary>One counter's text: the agent cuts them at 256 characters; twice that leaves room.</summary>
    public const int MaxCounterText = 512;

    public const int MaxHosts = 1_000;
    public const int MaxGaps = 10_000;

    /// <summary>
    /// Per drop bucket or counter delta: a day of 10 Mpps is 10^12. <see cref="MaxBuckets"/> of them still add up
    /// within a long, so no total overflows.
    /// </summary>
    public const long MaxCount = 1_000_000_000_000;

    /// <summary>Bucket sizes an agent records with (10 ms by default, per second when coarse).</summary>
    public const int MinBucketMs = 1, MaxBucketMs = 60_000;

    /// <summary>
    /// How far a DropBoard export's buckets, counters, samples and gaps may lie outside its start and stop: agents
    /// time buckets by their own clocks, and a batch in flight when a session starts is recorded into it.
    /// </summary>
    public const long SpanToleranceMs = 5 * 60_000;

    /// <summary>The longest session an import makes.</summary>
    public const long MaxSpanMs = 366L * 24 * 60 * 60 * 1000;

    /// <summary>A DNS name's limit, for host ids and names (as the hub takes them from agents).</summary>
    public const int MaxHostName = 253;

    /// <summary>Kernel release, capture source, origin, the reason of a gap.</summary>
    public const int MaxLabel = 128;

    public const int MaxNotes = 100_000;

    /// <summary>The kernel's KSYM_NAME_LEN; module names are symbols too.</summary>
    public const int MaxSymbol = 512;

    /// <summary>The agent cuts reason names at this length.</summary>
    public const int MaxReason = 128;

    public const int MaxCounterName = 128;

    /// <summary>IFNAMSIZ less its terminating zero.</summary>
    public const int MaxDeviceName = 15;

    /// <summary>Agents keep the first 128 bytes of a dropped packet.</summary>
    public const int MaxSampleHeaderBytes = 256;

    /// <summary>A packet's length; GSO packets reach hundreds of kilobytes.</summary>
    public const int MaxPacketBytes = 16 << 20;
}
