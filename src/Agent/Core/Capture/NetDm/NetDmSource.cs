using DropBoard.Agent.Netlink;
using System.Diagnostics;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Privileges;
using static DropBoard.Agent.Capture.NetDm.NetDmProtocol;
using static Tmds.Linux.LibC;

namespace DropBoard.Agent.Capture.NetDm;

/// <summary>How to run the kernel's drop monitor.</summary>
public sealed record NetDmOptions
{
    public NetDmMode Mode { get; init; } = NetDmMode.Summary;
    /// <summary>Packet mode: bytes of each dropped packet the kernel copies (from the MAC header).</summary>
    public int TruncateBytes { get; init; } = 128;
    /// <summary>Packet mode: packets the kernel queues per CPU before it counts them as its own drops (kernel default 1000).</summary>
    public int QueueLength { get; init; } = 10_000;
    /// <summary>Also monitor hardware drops (devlink traps), where the driver reports them.</summary>
    public bool Hardware { get; init; } = true;
    /// <summary>Packet mode: write the dropped packets here as pcapng.</summary>
    public string? PcapPath { get; init; }
    /// <summary>Write every netlink datagram sent and received here (<see cref="NetlinkRecording"/>).</summary>
    public string? RecordPath { get; init; }
}

/// <summary>
/// Drops from the NET_DM generic-netlink family (what dropwatch speaks), through our own netlink socket: resolve
/// the family, configure, join its "events" group, start; on the way out drain what the kernel still holds and
/// stop. Summary mode counts in the kernel (pc + count, about once a second); packet mode sends every dropped
/// packet with its reason, time, protocol and headers.
/// </summary>
public sealed class NetDmSource : IDropSource
{
    private readonly NetlinkSocket _commands;
    private readonly NetlinkSocket _events;
    private readonly GenlFamily _family;
    private readonly NetDmOptions _options;
    private readonly NetlinkRecording? _recording;
    // Linux's own "not supported" (include/linux/errno.h), which libc does not name: old kernels answer CONFIG with it.
    private const int ENOTSUPP = 524;
    private const int IdleWaitMs = 250;

    private readonly Lock _commandGate = new();
    private (ulong Software, ulong Hardware) _statsAtStart;
    private long _queueDrops;
    private long _socketOverruns;
    private int _running;

    public string Name => "netdm";

    public NetDmMode Mode => _options.Mode;

    /// <summary>Packets the kernel's monitor queue dropped, plus one per receive-buffer overrun (its count is unknown).</summary>
    public long LostRecords => Interlocked.Read(ref _queueDrops) + Interlocked.Read(ref _socketOverruns);

    /// <summary>Messages that could not be parsed, each counted, the last reason in <see cref="LastError"/>.</summary>
    public long CorruptRecords => _decoder?.CorruptMessages ?? 0;

    public string? LastError => _stopError ?? _decoder?.LastError;

    private readonly PcapngWriter? _pcap;
    private NetDmDecoder? _decoder;
    private string? _stopError;

    /// <summary>This agent started the kernel's monitor (not sharing another program's) and will stop it.</summary>
    public bool OwnsMonitor => Volatile.Read(ref _running) == 1;

    /// <summary>What was noticed while starting (hardware monitoring unavailable, ...), for the agent's start line.</summary>
    public string? StartNote { get; private set; }

    private NetDmSource(NetlinkSocket commands, NetlinkSocket events, GenlFamily family, NetDmOptions options, NetlinkRecording? recording, PcapngWriter? pcap)
    {
        _commands = commands;
        _events = events;
        _family = family;
        _options = options;
        _recording = recording;
        _pcap = pcap;
    }

    /// <exception cref="CaptureUnavailableException">No NET_DM here, or the monitor is in use, or not allowed.</exception>
    public static NetDmSource Open(NetDmOptions options)
    {
        if (options.PcapPath is not null && options.Mode != NetDmMode.Packet)
            throw new CaptureUnavailableException("--pcap needs the dropped packets", "add --mode packet");
        NetlinkRecording? recording = null;
        NetlinkSocket? commands = null, events = null;
        PcapngWriter? pcap = null;
        try
        {
            recording = options.RecordPath is null ? null : NetlinkRecording.Create(options.RecordPath, RecordingHeader(options));
            commands = OpenSocket(recording);
            var family = ResolveFamily(commands);
            if (!family.MulticastGroups.TryGetValue(EventsGroup, out var group))
                throw new CaptureUnavailableException($"the kernel's {FamilyName} family has no '{EventsGroup}' multicast group", "use --source tracepoint");

            var shared = !Configure(commands, family, options);
            events = OpenSocket(recording);
            // Packet mode can burst thousands of messages between two receives; the kernel's queue holds the rest.
            events.SetReceiveBuffer(options.Mode == NetDmMode.Packet ? 64 << 20 : 4 << 20);
            try
            {
                events.Join(group);
            }
            catch (NetlinkErrorException e) when (e.Errno == EPERM)
            {
                throw new CaptureUnavailableException(
                    $"joining {FamilyName} '{EventsGroup}' was refused ({e.Message})", "run the agent as root (CAP_SYS_ADMIN since Linux 6.7 and its stable backports)");
            }
            if (options.PcapPath is not null)
                pcap = PcapngWriter.Create(options.PcapPath, options.TruncateBytes);
            var source = new NetDmSource(commands, events, family, options, recording, pcap);
            // Queue drops are packet mode's only loss: the baseline they are counted from.
            if (options.Mode == NetDmMode.Packet) source._statsAtStart = source.ReadStats();
            if (shared)
                source.StartNote = "sharing the drop monitor another program (dropwatch?) started: it keeps running when this agent stops";
            else
                source.StartMonitor();
            return source;
        }
        catch (Exception e)
        {
            events?.Dispose();
            commands?.Dispose();
            recording?.Dispose();
            pcap?.Dispose();
            if (e is NetlinkErrorException or NetlinkParseException or TimeoutException or IOException or UnauthorizedAccessException)
                throw new CaptureUnavailableException($"NET_DM: {e.Message}", "use --source tracepoint");
            throw;
        }
    }

    private static string RecordingHeader(NetDmOptions options) =>
        $"dropboard-agent NET_DM recording, mode {options.Mode.ToString().ToLowerInvariant()}\n" +
        $"kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, recorded {DateTime.UtcNow:O}";

    private static NetlinkSocket OpenSocket(NetlinkRecording? recording)
    {
        try
        {
            var socket = NetlinkSocket.Open(NetlinkProtocol.NETLINK_GENERIC);
            if (recording is not null) socket.Recorder = recording.Write;
            return socket;
        }
        catch (NetlinkErrorException e)
        {
            throw new CaptureUnavailableException($"cannot open a generic netlink socket: {e.Message}", "check that the kernel has CONFIG_NET and generic netlink");
        }
    }

    /// <summary>The family id and groups; loads drop_monitor when the family is missing.</summary>
    private static GenlFamily ResolveFamily(NetlinkSocket commands)
    {
        try
        {
            return ReadFamily(commands);
        }
        catch (NetlinkErrorException e) when (e.Errno == ENOENT)
        {
            var modprobe = LoadModule("drop_monitor");
            try
            {
                return ReadFamily(commands);
            }
            catch (NetlinkErrorException again) when (again.Errno == ENOENT)
            {
                throw new CaptureUnavailableException(
                    $"the kernel has no {FamilyName} drop monitor and 'modprobe drop_monitor' did not add it ({modprobe})",
                    "use --source tracepoint, or a kernel built with CONFIG_NET_DROP_MONITOR");
            }
        }
    }

    private static GenlFamily ReadFamily(NetlinkSocket commands)
    {
        foreach (var reply in commands.Transact($"resolve {FamilyName}", GenlFamily.Request(FamilyName, 0).ToArray()))
            foreach (var message in new NetlinkDatagram(reply))
                if (message.Type == NetlinkProtocol.GENL_ID_CTRL)
                    return GenlFamily.Parse(message);
        throw new NetlinkParseException($"the controller acknowledged the {FamilyName} lookup without describing it");
    }

    private static string LoadModule(string module)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("modprobe", module) { RedirectStandardError = true, UseShellExecute = false })!;
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(10_000))
            {
                process.Kill();
                return "modprobe did not finish within 10 s";
            }
            var text = stderr.Result.Trim();
            return process.ExitCode == 0 ? "it loaded, but the family did not appear" : $"exit {process.ExitCode}: {text}";
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return $"modprobe could not run: {e.Message}";
        }
    }

    /// <summary>Sets the alert mode; false when another program runs the monitor in that same mode (share it).</summary>
    private static bool Configure(NetlinkSocket commands, GenlFamily family, NetDmOptions options)
    {
        var request = NetlinkRequest.Genl(family.Id, CMD_CONFIG, (byte)family.Version, 0).U8(ATTR_ALERT_MODE, (byte)options.Mode);
        if (options.Mode == NetDmMode.Packet)
            request.U32(ATTR_TRUNC_LEN, (uint)options.TruncateBytes).U32(ATTR_QUEUE_LEN, (uint)options.QueueLength);
        try
        {
            commands.Transact("configure the drop monitor", request.ToArray());
            return true;
        }
        catch (NetlinkErrorException e) when (e.Errno == EBUSY)
        {
            // Monitoring already: its alerts reach every member of the group, so in the mode we want, listen along.
            if (RunningMode(commands, family) == options.Mode && options.PcapPath is null) return false;
            throw AlreadyRunning(e);
        }
        // Kernels before 5.4 know only summary mode and refuse CONFIG: summary needs none.
        catch (NetlinkErrorException e) when ((e.Errno == EOPNOTSUPP || e.Errno == ENOTSUPP) && options.Mode == NetDmMode.Summary)
        {
            return true;
        }
        catch (NetlinkErrorException e) when (e.Errno == EOPNOTSUPP || e.Errno == ENOTSUPP)
        {
            throw new CaptureUnavailableException($"this kernel's drop monitor has no packet mode ({e.Message})", "use --mode summary (packet mode needs Linux 5.4+)");
        }
    }

    private static NetDmMode? RunningMode(NetlinkSocket commands, GenlFamily family)
    {
        foreach (var reply in commands.Transact("read the drop monitor's configuration", NetlinkRequest.Genl(family.Id, CMD_CONFIG_GET, (byte)family.Version, 0).ToArray()))
            foreach (var message in new NetlinkDatagram(reply))
                if (message.Type == family.Id && message.GenlCommand == CMD_CONFIG_NEW)
                    return NetDmAlerts.ParseConfig(message).Mode;
        return null;
    }

    private static CaptureUnavailableException AlreadyRunning(NetlinkErrorException e) => new(
        $"the kernel's drop monitor is already running ({e.Message}): another dropwatch or agent uses it, or one was killed before it could stop it",
        "stop that dropwatch or agent; if none is running, 'dropboard-agent netdm-stop' switches the monitor off");

    private void StartMonitor()
    {
        try
        {
            lock (_commandGate) _commands.Transact("start the drop monitor", StartRequest(_options.Hardware));
        }
        catch (NetlinkErrorException e) when (e.Errno == EAGAIN || e.Errno == EBUSY)
        {
            throw AlreadyRunning(e);
        }
        catch (NetlinkErrorException e) when (_options.Hardware)
        {
            // Hardware monitoring needs devlink support; software drops are what every host has.
            lock (_commandGate) _commands.Transact("start the drop monitor", StartRequest(hardware: false));
            StartNote = $"hardware drops not monitored ({e.Message})";
        }
        Volatile.Write(ref _running, 1);
        // Never leave the kernel's monitor running behind the user: also on a crash or a plain process exit.
        AppDomain.CurrentDomain.UnhandledException += StopOnExit;
        AppDomain.CurrentDomain.ProcessExit += StopOnExit;
    }

    private byte[] StartRequest(bool hardware)
    {
        var request = NetlinkRequest.Genl(_family.Id, CMD_START, (byte)_family.Version, 0).Flag(ATTR_SW_DROPS);
        return (hardware ? request.Flag(ATTR_HW_DROPS) : request).ToArray();
    }

    private void StopOnExit(object? sender, EventArgs e) => StopMonitor();

    /// <summary>Sends STOP once; safe from any thread and from exit handlers.</summary>
    private void StopMonitor()
    {
        if (Interlocked.Exchange(ref _running, 0) == 0) return;
        AppDomain.CurrentDomain.UnhandledException -= StopOnExit;
        AppDomain.CurrentDomain.ProcessExit -= StopOnExit;
        try
        {
            // STOP needs CAP_NET_ADMIN on the sending thread: after a privilege drop only one thread has it.
            lock (_commandGate) KeptPrivileges.Run(() => _commands.Transact("stop the drop monitor", StopRequest(_family).ToArray()));
        }
        catch (Exception e) when (e is NetlinkErrorException or TimeoutException or NetlinkParseException)
        {
            _stopError = $"stopping the drop monitor failed: {e.Message}";
        }
    }

    private static NetlinkRequest StopRequest(GenlFamily family) =>
        NetlinkRequest.Genl(family.Id, CMD_STOP, (byte)family.Version, 0).Flag(ATTR_SW_DROPS).Flag(ATTR_HW_DROPS);

    /// <summary>Switches the kernel's drop monitor off, whoever started it (a killed dropwatch or agent).</summary>
    public static void StopAnyMonitor()
    {
        using var commands = OpenSocket(null);
        var family = ResolveFamily(commands);
        commands.Transact("stop the drop monitor", StopRequest(family).ToArray());
    }

    private (ulong Software, ulong Hardware) ReadStats()
    {
        try
        {
            List<byte[]> replies;
            lock (_commandGate)
                replies = _commands.Transact("read the drop monitor's statistics", NetlinkRequest.Genl(_family.Id, CMD_STATS_GET, (byte)_family.Version, 0).ToArray());
            foreach (var reply in replies)
                foreach (var message in new NetlinkDatagram(reply))
                    if (message.Type == _family.Id && message.GenlCommand == CMD_STATS_NEW)
                        return NetDmAlerts.ParseStats(message);
        }
        // Kernels before 5.4 have no statistics: summary mode cannot lose packets to a queue there anyway.
        catch (NetlinkErrorException e) when (e.Errno == EOPNOTSUPP || e.Errno == EINVAL)
        {
        }
        return _statsAtStart;
    }

    public void Run(DropAggregator aggregator, IDropSampleSink samples, CancellationToken cancellationToken)
    {
        var decoder = _decoder = new NetDmDecoder(_family.Id, aggregator, samples, _pcap);
        var buffer = new byte[Math.Max(64 * 1024, _options.TruncateBytes + 4096)];
        var clock = Stopwatch.StartNew();
        var nextStats = 1000L;
        var lastMessageMs = 0L;
        long? stoppingSinceMs = null;
        // dm_delay: a summary alert leaves the kernel up to a second after the drop that opened it.
        var settleMs = _options.Mode == NetDmMode.Summary ? 1200 : 300;
        while (true)
        {
            if (cancellationToken.IsCancellationRequested && stoppingSinceMs is null) stoppingSinceMs = clock.ElapsedMilliseconds;
            if (stoppingSinceMs is { } since)
            {
                var now = clock.ElapsedMilliseconds;
                // Drain what the kernel still holds, then stop: drops seen before the stop must not be lost.
                if (now - since >= 3000 || (now - since >= settleMs && now - lastMessageMs >= 200)) break;
            }
            // Asleep until the kernel sends; woken a few times a second only to notice a stop and read the statistics.
            for (var length = Receive(buffer, IdleWaitMs); length > 0; length = Receive(buffer, 0))
            {
                lastMessageMs = clock.ElapsedMilliseconds;
                decoder.Decode(buffer.AsSpan(0, length));
            }
            aggregator.Commit();
            if (clock.ElapsedMilliseconds >= nextStats)
            {
                nextStats += 1000;
                UpdateLost();
                _pcap?.Flush();
            }
        }
        StopMonitor();
        // The kernel sends nothing after STOP returns; take what was already in the socket.
        for (var length = Receive(buffer, 0); length != 0; length = Receive(buffer, 0))
            if (length > 0) decoder.Decode(buffer.AsSpan(0, length));
        aggregator.Commit();
        UpdateLost();
        _pcap?.Flush();
    }

    /// <summary>One datagram's length, 0 when none came, or -1 after an overrun (counted as lost).</summary>
    private int Receive(byte[] buffer, int timeoutMs)
    {
        var length = _events.Receive(buffer, timeoutMs);
        if (length < 0) Interlocked.Increment(ref _socketOverruns);
        return length;
    }

    private void UpdateLost()
    {
        if (_options.Mode != NetDmMode.Packet) return;
        var stats = ReadStats();
        Interlocked.Exchange(ref _queueDrops, (long)(stats.Software - _statsAtStart.Software + stats.Hardware - _statsAtStart.Hardware));
    }

    public void Dispose()
    {
        StopMonitor();
        _events.Dispose();
        _commands.Dispose();
        _pcap?.Dispose();
        _recording?.Dispose();
    }
}
