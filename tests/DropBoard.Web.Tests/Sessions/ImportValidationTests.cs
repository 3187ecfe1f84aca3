using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using DropBoard.Shared.Contracts;
using DropBoard.TestKit;
using DropBoard.Web.Sessions;
using DropBoard.Web.Sessions.Import;
using static DropBoard.Web.Tests.Sessions.SessionApiReads;

namespace DropBoard.Web.Tests.Sessions;

/// <summary>
/// Imports come from users: the parsers refuse what no capture tool writes, each time naming the line (or JSON
/// path) and what is wrong, and keep reading the real captures as before.
/// </summary>
public sealed class ImportValidationTests
{
    private const long Start = 1_700_000_000_000, Stop = Start + 60_000, Now = Stop + 3_600_000;

    [Fact]
    public void The_real_captures_still_import()
    {
        var perf = PerfScriptImport.Parse(File.ReadAllText(Fixture("perf-script-kfree_skb-6.18.txt")), "perf", Start);
        Assert.Equal(99, perf.Hosts.Single().Drops.Sum(d => d.Count));
        Assert.Equal(Start, perf.StartedMs);

        var dropwatch = DropwatchImport.Parse(File.ReadAllText(Fixture("seed-rhel7", "dropwatch-session.txt")), "seed", Start,
            File.ReadAllText(Fixture("seed-rhel7", "netstat-su-before.txt")), File.ReadAllText(Fixture("seed-rhel7", "netstat-su-after.txt")));
        // One count per site at the import's instant: dropwatch prints no times.
        Assert.Equal(9, dropwatch.Hosts.Single().Drops.Count);
        Assert.All(dropwatch.Hosts.Single().Drops, d => Assert.Equal(Start, d.StartMs));
        Assert.Equal(Start, dropwatch.StoppedMs);
        Assert.Equal(174, dropwatch.Hosts.Single().Counters.Single(c => c.Name == "Udp.InErrors").Delta);

        var again = SessionFileJson.Read(SessionFileJson.Write(dropwatch), Now);
        Assert.Equal(SessionFileJson.Write(dropwatch), SessionFileJson.Write(again));
    }

    [Fact]
    public void A_dropwatch_import_with_only_one_netstat_text_is_refused_rather_than_stored_without_counters()
    {
        var dropwatch = File.ReadAllText(Fixture("seed-rhel7", "dropwatch-session.txt"));
        var before = File.ReadAllText(Fixture("seed-rhel7", "netstat-su-before.txt"));

        var e = Assert.Throws<ImportException>(() => DropwatchImport.Parse(dropwatch, "seed", Start, netstatBefore: before));

        Assert.Equal("only the netstat before text was given: counter rises need both, before and after", e.Message);
    }

    [Fact]
    public void An_export_with_every_kind_of_site_an_agent_records_reads_back()
    {
        var file = Export(Host(
            drops:
            [
                new DropBucket("nf_hook_slow+0x45 [nf_conntrack]", "nf_hook_slow", null, Start, 1),
                new DropBucket("tcp_v4_rcv.cold+0x0", "tcp_v4_rcv.cold", "NO_SOCKET", Start + 10, 2, 0x86DD),
                new DropBucket("ip_rcv_core.isra.0+0x1a", "ip_rcv_core.isra.0", "IP_INHDR", Start + 10, 2),
                new DropBucket("__pfx_ip_rcv+0x0", "__pfx_ip_rcv", null, Start + 10, 2),
                new DropBucket("0xffffffffc0a01234+0x0", "0xffffffffc0a01234", "REASON_77", Start + 20, 3),
                new DropBucket("hardware (rx_dropped rose)", "hardware", null, Start + 30, 4),
                new DropBucket("ttl_value_is_too_small (hardware trap)", "ttl_value_is_too_small", null, Start + 40, 5),
            ],
            counters: [new CounterDelta("Dev.eth0.100.rx_dropped", 3, Start + 1000), new CounterDelta("Softnet.cpu0.dropped", 0, Start + 1000)],
            samples:
            [
                new DropSample((Start + 5) * 1_000_000, "0xffffffff81234567", "0xffffffff81234567", null, 0x0800, "ifindex 7", 60, new byte[60]),
                new DropSample((Start + 6) * 1_000_000, "__udp4_lib_rcv+0x4bc", "__udp4_lib_rcv", "NO_SOCKET", 0x0800, "br-1a2b3c4d5e6f", 1500, new byte[128]),
            ]));

        var read = SessionFileJson.Read(SessionFileJson.Write(file), Now);

        Assert.Equal(SessionFileJson.Write(file), SessionFileJson.Write(read));
    }

    [Fact]
    public void Counter_texts_read_back_and_a_file_made_before_them_still_reads()
    {
        var texts = new Dictionary<string, string> { ["Netfilter.inet.dbt.input.4"] = "meta l4proto 17 th dport 7421 counter drop comment \"<b>x</b>\"" };
        var file = Export(Host(counters: [new CounterDelta("Netfilter.inet.dbt.input.4", 3, Start + 1000)]) with { CounterTexts = texts });

        var read = SessionFileJson.Read(SessionFileJson.Write(file), Now);
        Assert.Equal(texts, read.Hosts[0].CounterTexts);

        var old = SessionFileJson.Write(Export(Host()));
        Assert.DoesNotContain("counterTexts", Encoding.UTF8.GetString(old));
        Assert.Null(SessionFileJson.Read(old, Now).Hosts[0].CounterTexts);
    }

    [Fact]
    public void A_session_exported_while_recording_is_read_up_to_the_import_time()
    {
        var recording = Export(Host()) with { StoppedMs = null };

        Assert.Null(SessionFileJson.Read(SessionFileJson.Write(recording), Now).StoppedMs);
        var early = Assert.Throws<ImportException>(() => SessionFileJson.Read(SessionFileJson.Write(recording), Start - 2 * ImportLimits.SpanToleranceMs));
        Assert.StartsWith("startedMs: ", early.Message);
    }

    [Fact]
    public void Garbage_bytes_are_refused_at_the_line_they_are_on()
    {
        byte[] bytes = [.. "dropwatch> start\n2 drops at tcp_v4_rcv+77 (0xffffffff8152efd7)\n"u8, 0x31, 0xC3, 0x28, 0xA0, (byte)'\n'];

        var e = Assert.Throws<ImportException>(() => ImportText.Decode(bytes));

        Assert.Equal("line 3: byte 0xC3 is not UTF-8 text (binary data?)", e.Message);
    }

    [Theory]
    [InlineData("dropwatch", "dropwatch> start\n\u007fELF\u0002\u0001\u0001\0\0\0", "line 2: control character U+007F in column 1: binary data, not text")]
    [InlineData("perf-script", "# perf script\n  sshd 1 [000] 1.5: skb:kfree_skb: location=f+0x1\0", "line 2: control character U+0000 in column 50")]
    [InlineData("netstat", "Udp:\n    12 packets received\r\n\u001b[31m", "netstat before, line 3: control character U+001B in column 1")]
    public void Binary_is_refused_at_its_first_control_character(string format, string text, string error)
    {
        var e = Assert.Throws<ImportException>(() => Parse(format, text));

        Assert.StartsWith(error, e.Message);
    }

    [Fact]
    public void A_file_over_the_byte_limit_is_refused_as_too_large_before_it_is_parsed()
    {
        var importer = new SessionImporter(null!, TimeProvider.System);

        var e = Assert.Throws<ImportException>(() => importer.Import("dropwatch", new byte[ImportLimits.MaxFileBytes + 1], null));

        Assert.True(e.TooLarge);
        Assert.Equal("the file is larger than 64 MiB, the most an import takes", e.Message);
    }

    [Fact]
    public void A_netstat_text_over_its_limit_is_refused_as_too_large()
    {
        var text = "Udp:\n" + new string(' ', ImportLimits.MaxNetstatBytes) + "\n";

        var e = Assert.Throws<ImportException>(() => NetstatSummary.Parse(text, "netstat after"));

        Assert.True(e.TooLarge);
        Assert.Equal("netstat after is larger than 1 MiB, the most an import takes", e.Message);
    }

    [Fact]
    public void Too_many_lines_or_a_line_too_long_are_refused_at_that_line()
    {
        var lines = Assert.Throws<ImportException>(() => Parse("dropwatch", "1 drops at f+1\n" + new string('\n', ImportLimits.MaxLines)));
        Assert.Equal($"line {ImportLimits.MaxLines + 1}: more than {ImportLimits.MaxLines} lines", lines.Message);

        var longLine = Assert.Throws<ImportException>(() => Parse("perf-script", "# perf\n\n  x" + new string(' ', ImportLimits.MaxLineLength) + "\n"));
        Assert.Equal($"line 3: {ImportLimits.MaxLineLength + 3} characters, more than the {ImportLimits.MaxLineLength} a line may have", longLine.Message);
    }

    [Fact]
    public void More_distinct_sites_than_the_limit_are_refused_at_the_first_one_too_many()
    {
        var text = string.Join('\n', Enumerable.Range(0, ImportLimits.MaxSites + 1).Select(i => $"1 drops at site_{i}+1 (0xffffffff81000000)"));

        var e = Assert.Throws<ImportException>(() => Parse("dropwatch", text));

        Assert.Equal($"line {ImportLimits.MaxSites + 1}: more than {ImportLimits.MaxSites} distinct drop sites", e.Message);
    }

    [Theory]
    [InlineData("dropwatch", "dropwatch> start\n3 drops at <img/src=x/onerror=alert(1)>+1c (0xffffffff8152efd7)\n",
        "line 2: function name '<img/src=x/onerror=alert(1)>' has characters a kernel symbol never has")]
    [InlineData("perf-script", "  a 1 [000] 1.5: skb:kfree_skb: location=tcp_v4_rcv+0x77\n  a 1 [000] 1.6: skb:kfree_skb: location=<svg/onload=alert(1)>+0x1 reason: NO_SOCKET\n",
        "line 2: function name '<svg/onload=alert(1)>' has characters a kernel symbol never has")]
    [InlineData("dropwatch", "1 drops at nf_hook_slow+45[<b>x</b>] (0xffffffff8152efd7)\n",
        "line 1: module name '<b>x</b>' has characters a kernel module name never has")]
    [InlineData("perf-script", "  a 1 [000] 1.5: skb:kfree_skb: location=tcp_v4_rcv+0x77 reason: no_socket\n",
        "line 1: drop reason 'no_socket' is not a kernel drop reason (A-Z, 0-9 and '_', at most 128)")]
    [InlineData("perf-script", "  a 1 [000] 1.5: skb:kfree_skb: location=tcp_v4_rcv+0x77 reason: <i>NO_SOCKET</i>\n",
        "line 1: drop reason '<i>NO_SOCKET</i>' is not a kernel drop reason")]
    [InlineData("dropwatch", "1 drops at tcp_v4_rcv+77 (0xffffffff8152efd7)\n0 drops at tcp_v4_rcv+77 (0xffffffff8152efd7)\n",
        "line 2: drop count '0' is not a number from 1 to 1000000000000")]
    [InlineData("dropwatch", "99999999999999999999 drops at tcp_v4_rcv+77 (0xffffffff8152efd7)\n",
        "line 1: drop count '99999999999999999999' is not a number from 1 to 1000000000000")]
    [InlineData("dropwatch", "-5 drops at tcp_v4_rcv+77 (0xffffffff8152efd7)\n", "line 1: not a dropwatch line: '-5 drops at")]
    [InlineData("perf-script", "  a 1 [000] 12.5: skb:kfree_skb: location=tcp_v4_rcv+0x77\n  a 1 [000] 99999999.5: skb:kfree_skb: location=tcp_v4_rcv+0x77\n",
        "line 2: time 99999999.5 s makes the recording longer than 366 days")]
    [InlineData("netstat", "Udp:\n    99999999999999999999 packet receive errors\n", "netstat before, line 2: Udp.InErrors value '99999999999999999999' is not a counter value")]
    public void A_value_no_capture_tool_writes_is_refused_naming_its_line(string format, string text, string error)
    {
        var e = Assert.Throws<ImportException>(() => Parse(format, text));

        Assert.StartsWith(error, e.Message);
    }

    [Fact]
    public void A_perf_drop_earlier_than_the_first_moves_the_session_start_back_instead_of_lying_before_it()
    {
        const string text = "  a 1 [001] 100.500: skb:kfree_skb: location=tcp_v4_rcv+0x77\n  a 1 [000] 100.250: skb:kfree_skb: location=tcp_v4_rcv+0x77\n  a 1 [000] 101.000: skb:kfree_skb: location=tcp_v4_rcv+0x77\n";

        var session = PerfScriptImport.Parse(text, "perf", Start);

        Assert.Equal(Start - 250, session.StartedMs);
        Assert.Equal([Start - 250, Start, Start + 500], session.Hosts.Single().Drops.Select(d => d.StartMs));
        Assert.All(session.Hosts.Single().Drops, d => Assert.InRange(d.StartMs, session.StartedMs, session.StoppedMs!.Value));
    }

    public static TheoryData<string, Func<SessionFile, SessionFile>, string> BadExports => new()
    {
        {
            "markup in a function",
            f => WithDrop(f, new DropBucket("<img src=x onerror=alert(1)>+0x1", "<img src=x onerror=alert(1)>", null, Start, 1)),
            "hosts[0].drops[1].function: '<img src=x onerror=alert(1)>' has characters a kernel symbol never has"
        },
        {
            "a function longer than the kernel's KSYM_NAME_LEN",
            f => WithDrop(f, new DropBucket(new string('f', 513) + "+0x1", new string('f', 513), null, Start, 1)),
            $"hosts[0].drops[1].function: '{new string('f', 77)}...' is 513 characters long, longer than a kernel symbol is (512)"
        },
        {
            "a site that is not its function's",
            f => WithDrop(f, new DropBucket("tcp_v4_rcv+0x77 <b>", "tcp_v4_rcv", null, Start, 1)),
            "hosts[0].drops[1].site: 'tcp_v4_rcv+0x77 <b>' is not 'tcp_v4_rcv+0xOFFSET'"
        },
        {
            "a bad reason",
            f => WithDrop(f, new DropBucket("tcp_v4_rcv+0x77", "tcp_v4_rcv", "socket rcvbuff", Start, 1)),
            "hosts[0].drops[1].reason: 'socket rcvbuff' is not a kernel drop reason"
        },
        {
            "a bucket a day after the stop",
            f => WithDrop(f, new DropBucket("tcp_v4_rcv+0x77", "tcp_v4_rcv", null, Stop + 86_400_000, 1)),
            $"hosts[0].drops[1].startMs: {Stop + 86_400_000} (2023-11-15 22:14:20.000 UTC) is outside the session, {Start} (2023-11-14 22:13:20.000 UTC) to {Stop} (2023-11-14 22:14:20.000 UTC)"
        },
        {
            "a counter before the start",
            f => f with { Hosts = [f.Hosts[0] with { Counters = [new CounterDelta("Udp.InErrors", 1, Start - ImportLimits.SpanToleranceMs - 1)] }] },
            "hosts[0].counters[0].atMs: 1699999699999 (2023-11-14 22:08:19.999 UTC) is outside the session"
        },
        {
            "a sample in 1970",
            f => f with { Hosts = [f.Hosts[0] with { Samples = [new DropSample(5, "tcp_v4_rcv+0x77", "tcp_v4_rcv", null, 0, null, 60, null)] }] },
            "hosts[0].samples[0].timestampNs: 0 (1970-01-01 00:00:00.000 UTC) is outside the session"
        },
        { "a zero bucket size", f => f with { Hosts = [f.Hosts[0] with { BucketMs = 0 }] }, "hosts[0].bucketMs: 0 is not a bucket size from 1 ms to 60 s" },
        { "an hour's bucket size", f => f with { Hosts = [f.Hosts[0] with { BucketMs = 3_600_000 }] }, "hosts[0].bucketMs: 3600000 is not a bucket size from 1 ms to 60 s" },
        { "a negative drop count", f => WithDrop(f, new DropBucket("tcp_v4_rcv+0x77", "tcp_v4_rcv", null, Start, -5)), "hosts[0].drops[1].count: -5 is not a count from 1 to 1000000000000" },
        {
            "an absurd drop count",
            f => WithDrop(f, new DropBucket("tcp_v4_rcv+0x77", "tcp_v4_rcv", null, Start, long.MaxValue)),
            $"hosts[0].drops[1].count: {long.MaxValue} is not a count from 1 to 1000000000000"
        },
        {
            "a negative counter delta",
            f => f with { Hosts = [f.Hosts[0] with { Counters = [new CounterDelta("Udp.InErrors", -1, Start)] }] },
            "hosts[0].counters[0].delta: -1 is not a count from 0 to 1000000000000"
        },
        {
            "a counter name no device can have (a space, a line break)",
            f => f with { Hosts = [f.Hosts[0] with { Counters = [new CounterDelta("Dev.eth 0.rx_dropped<script>\n", 1, Start)] }] },
            "hosts[0].counters[0].name: 'Dev.eth 0.rx_dropped<script>"
        },
        {
            "a counter text for no counter name",
            f => f with { Hosts = [f.Hosts[0] with { CounterTexts = new Dictionary<string, string> { ["Netfilter.a <b>"] = "drop" } }] },
            "hosts[0].counterTexts: 'Netfilter.a <b>' is not a counter name"
        },
        {
            "a counter text with a line break",
            f => f with { Hosts = [f.Hosts[0] with { CounterTexts = new Dictionary<string, string> { ["Netfilter.ip.filter.INPUT.5"] = "drop\nfake" } }] },
            "hosts[0].counterTexts['Netfilter.ip.filter.INPUT.5']: 'drop?fake' has the unprintable character U+000A at 4"
        },
        {
            "a counter text too long",
            f => f with { Hosts = [f.Hosts[0] with { CounterTexts = new Dictionary<string, string> { ["Netfilter.ip.filter.INPUT.5"] = new string('x', 513) } }] },
            "hosts[0].counterTexts['Netfilter.ip.filter.INPUT.5']: is 513 characters long, at most 512 are taken"
        },
        { "a negative lost count", f => f with { Hosts = [f.Hosts[0] with { LostRecords = -1 }] }, "hosts[0].lostRecords: -1 is not a count from 0" },
        { "a name with a control character", f => f with { Name = "tproxy\u001b[2J" }, "name: a name has no control characters" },
        { "a host name with a line break", f => f with { Hosts = [f.Hosts[0] with { HostName = "a\nb" }] }, "hosts[0].hostName: 'a?b' has the unprintable character U+000A at 1" },
        { "a name too long", f => f with { Name = new string('n', 201) }, "name: a name has at most 200 characters (this one has 201)" },
        { "a stop before the start", f => f with { StoppedMs = Start - 1 }, "stoppedMs: 1699999999999 (2023-11-14 22:13:19.999 UTC) is not from the start" },
        { "a start in the year 3000", f => f with { StartedMs = 32_503_680_000_000, StoppedMs = 32_503_680_000_001 }, "startedMs: 32503680000000 (3000-01-01 00:00:00.000 UTC) is not between 1970 and now" },
        { "a gap ending before it starts", f => f with { Gaps = [new SessionGap(Start + 10, Start + 5, "dashboard restarted")] }, "gaps[0].toMs: 1700000000005 (2023-11-14 22:13:20.005 UTC) is not from the gap's start" },
        { "a repeated host", f => f with { Hosts = [f.Hosts[0], f.Hosts[0]] }, "hosts[1].hostId: 'host-a' is the id of an earlier host too" },
        { "a sample header too long", f => f with { Hosts = [f.Hosts[0] with { Samples = [new DropSample(Start * 1_000_000, "tcp_v4_rcv+0x77", "tcp_v4_rcv", null, 0, null, 60, new byte[257])] }] }, "hosts[0].samples[0].header: 257 bytes, more than the 256 a sample keeps" },
        { "an input port no device can have ('/')", f => f with { Hosts = [f.Hosts[0] with { Samples = [new DropSample(Start * 1_000_000, "tcp_v4_rcv+0x77", "tcp_v4_rcv", null, 0, "eth/0", 60, null)] }] }, "hosts[0].samples[0].inPort: 'eth/0' is neither a device name" },
    };

    [Theory]
    [MemberData(nameof(BadExports))]
    public void A_DropBoard_export_with_a_value_no_session_has_is_refused_naming_its_json_path(string what, Func<SessionFile, SessionFile> spoil, string error)
    {
        var json = SessionFileJson.Write(spoil(Export(Host())));

        var e = Assert.Throws<ImportException>(() => SessionFileJson.Read(json, Now));

        Assert.True(e.Message.StartsWith(error, StringComparison.Ordinal), $"{what}: {e.Message}");
    }

    [Fact]
    public void An_export_with_more_sites_than_the_limit_is_refused_at_the_first_one_too_many()
    {
        var drops = Enumerable.Range(0, ImportLimits.MaxSites + 1).Select(i => new DropBucket($"site_{i}+0x1", $"site_{i}", null, Start, 1)).ToList();

        var e = Assert.Throws<ImportException>(() => SessionFileJson.Read(SessionFileJson.Write(Export(Host(drops: drops))), Now));

        Assert.StartsWith($"hosts[0].drops[{ImportLimits.MaxSites}]: a site (site, reason, protocol, namespace) more than the {ImportLimits.MaxSites} distinct ones", e.Message);
    }

    private static void Parse(string format, string text)
    {
        switch (format)
        {
            case "dropwatch": DropwatchImport.Parse(text, "test", Start); break;
            case "perf-script": PerfScriptImport.Parse(text, "test", Start); break;
            default: NetstatSummary.Parse(text, "netstat before"); break;
        }
    }

    internal static SessionFile Export(SessionFileHost host) => new(SessionFile.FormatName, 1, "tproxy", "live", Start, Stop, "", [host], []);

    internal static SessionFileHost Host(IReadOnlyList<DropBucket>? drops = null, IReadOnlyList<CounterDelta>? counters = null, IReadOnlyList<DropSample>? samples = null) =>
        new("host-a", "host-a", "6.1.0-18-amd64", "netdm", 10, 0,
            drops ?? [new DropBucket("udp_queue_rcv_skb+0x218", "udp_queue_rcv_skb", "SOCKET_RCVBUFF", Start + 1_000, 174, 0x0800)],
            counters ?? [new CounterDelta("Udp.InErrors", 174, Start + 2_000)],
            samples ?? []);

    private static SessionFile WithDrop(SessionFile file, DropBucket drop) => file with { Hosts = [file.Hosts[0] with { Drops = [.. file.Hosts[0].Drops, drop] }] };
}

/// <summary>
/// The same refusals through the real web app: 400 (or 413 for size) with the line in the error, and the session
/// list exactly as before.
/// </summary>
public sealed class ImportValidationApiTests(ImportValidationApiTests.App app) : IClassFixture<ImportValidationApiTests.App>
{
    /// <summary>One dashboard for these tests, holding one good import so "unchanged" compares a real list.</summary>
    public sealed class App : IAsyncLifetime
    {
        public WebAppProcess Process { get; private set; } = null!;

        public async ValueTask InitializeAsync()
        {
            Process = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
            var (status, _) = await ImportAsync(Process, "dropwatch", Dropwatch(Fixture("seed-rhel7", "dropwatch-session.txt")));
            Assert.Equal(HttpStatusCode.Created, status);
        }

        public ValueTask DisposeAsync() => Process.DisposeAsync();
    }

    [Theory]
    [InlineData("dropwatch", "dropwatch> start\n2 drops at tcp_v4_rcv+77 (0xffffffff8152efd7)\n3 drops at <img/src=x/onerror=alert(1)>+1c (0xffffffff8152efd7)\n",
        "dropwatch import: line 3: function name '<img/src=x/onerror=alert(1)>' has characters a kernel symbol never has")]
    [InlineData("perf-script", "  a 1 [000] 1.5: skb:kfree_skb: location=tcp_v4_rcv+0x77 reason: <script>\n",
        "perf-script import: line 1: drop reason '<script>' is not a kernel drop reason")]
    [InlineData("dropwatch", "dropwatch> start\n\0\0\0\u0001\n", "dropwatch import: line 2: control character U+0000 in column 1: binary data, not text")]
    public async Task A_text_import_with_a_bad_line_is_refused_with_400_naming_it_and_nothing_is_stored(string format, string text, string error)
    {
        Assert.StartsWith(error, await RefusedAsync(HttpStatusCode.BadRequest, format, new StringContent(text)));
    }

    [Fact]
    public async Task Garbage_bytes_are_refused_with_400_naming_their_line()
    {
        var error = await RefusedAsync(HttpStatusCode.BadRequest, "perf-script", new ByteArrayContent([.. "# perf script\n"u8, 0xFF, 0xFE, 0x00]));

        Assert.Equal("perf-script import: line 2: byte 0xFF is not UTF-8 text (binary data?)", error);
    }

    [Fact]
    public async Task A_DropBoard_export_with_times_outside_its_session_is_refused_with_400_naming_the_json_path()
    {
        var host = ImportValidationTests.Host();
        var file = ImportValidationTests.Export(host with { Drops = [.. host.Drops, host.Drops[0] with { StartMs = host.Drops[0].StartMs + 86_400_000 }] });

        var error = await RefusedAsync(HttpStatusCode.BadRequest, "dropboard", new ByteArrayContent(SessionFileJson.Write(file)));

        Assert.StartsWith("dropboard import: hosts[0].drops[1].startMs: 1700086401000 (2023-11-15 22:13:21.000 UTC) is outside the session", error);
    }

    [Fact]
    public async Task A_name_with_a_control_character_is_refused_with_400()
    {
        var error = await RefusedAsync(HttpStatusCode.BadRequest, "dropwatch", Dropwatch(Fixture("seed-rhel7", "dropwatch-session.txt")), "&name=tproxy%07%0Arun");

        Assert.Equal("dropwatch import: name: a name has no control characters (line breaks, tabs, escapes)", error);
    }

    [Fact]
    public async Task A_file_over_the_byte_limit_is_refused_with_413_whether_its_length_is_declared_or_not()
    {
        // A client that declares the length and waits for "100 Continue" (as curl does) is answered without sending the body.
        var before = await app.Process.Http.GetStringAsync("api/sessions");
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/import?format=dropwatch") { Content = new ByteArrayContent(new byte[ImportLimits.MaxFileBytes + 1]) };
        request.Headers.ExpectContinue = true;
        using var response = await app.Process.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        var declared = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString();
        Assert.Equal("dropwatch import: the file is larger than 64 MiB, the most an import takes", declared);
        Assert.Equal(before, await app.Process.Http.GetStringAsync("api/sessions"));

        // Chunked, so the server only finds out by reading: it stops at the limit.
        var streamed = new StreamContent(new UnseekableStream(new byte[ImportLimits.MaxFileBytes + 1]));
        Assert.Equal(declared, await RefusedAsync(HttpStatusCode.RequestEntityTooLarge, "dropwatch", streamed));
    }

    [Fact]
    public async Task An_oversized_netstat_attachment_is_refused_with_413_naming_its_part()
    {
        var form = Dropwatch(Fixture("seed-rhel7", "dropwatch-session.txt"));
        form.Add(new ByteArrayContent(Encoding.ASCII.GetBytes("Udp:\n" + new string(' ', ImportLimits.MaxNetstatBytes))) { Headers = { ContentType = new MediaTypeHeaderValue("text/plain") } },
            "netstatBefore", "before.txt");
        form.Add(new StringContent("Udp:\n    1 packet receive errors\n"), "netstatAfter");

        var error = await RefusedAsync(HttpStatusCode.RequestEntityTooLarge, "dropwatch", form);

        Assert.Equal("dropwatch import: netstatBefore is larger than 1 MiB, the most an import takes", error);
    }

    [Fact]
    public async Task A_netstat_attachment_with_a_bad_line_is_refused_with_400_naming_the_part_and_line()
    {
        var form = Dropwatch(Fixture("seed-rhel7", "dropwatch-session.txt"), Fixture("seed-rhel7", "netstat-su-before.txt"));
        form.Add(new StringContent("Udp:\n    88 packets received\n    <script>alert(1)</script>\n"), "netstatAfter");

        var error = await RefusedAsync(HttpStatusCode.BadRequest, "dropwatch", form);

        Assert.Equal("dropwatch import: netstat after, line 3: not a netstat -su line: '<script>alert(1)</script>'", error);
    }

    private async Task<string> RefusedAsync(HttpStatusCode expected, string format, HttpContent content, string? query = null)
    {
        var before = await app.Process.Http.GetStringAsync("api/sessions");
        Assert.Contains("\"id\"", before);

        var (status, body) = await ImportAsync(app.Process, format, content, query);

        Assert.Equal(expected, status);
        Assert.Equal(before, await app.Process.Http.GetStringAsync("api/sessions"));
        return body.GetProperty("error").GetString()!;
    }

    /// <summary>A body whose length HttpClient cannot know, so it is sent chunked.</summary>
    private sealed class UnseekableStream(byte[] bytes) : MemoryStream(bytes)
    {
        public override bool CanSeek => false;
    }
}
