using DropBoard.Shared.Contracts;
using DropBoard.Web.Hub;
using DropBoard.Web.Sessions.Import;

namespace DropBoard.Web.Tests.Hub;

/// <summary>
/// The names a batch may carry: what real agents send passes, markup, control characters and overlong names are
/// refused with the field and its index.
/// </summary>
public sealed class BatchCheckTests
{
    private static readonly AgentHello Hello = new("4f1c0de5a7b94e2c9d3e", "edge-01.example.net", "5.14.0-362.el9.x86_64", "tracepoint", "1.0.0+3f2a", 10, "0c9e1b");

    private static AgentBatch Batch(DropBucket[]? drops = null, CounterDelta[]? counters = null, DropSample[]? samples = null) =>
        new(Hello.HostId, 1, 1_000, drops ?? [], counters ?? [], samples ?? [], 0, 0);

    private static DropBucket Bucket(string site, string function, string? reason = "SOCKET_RCVBUFF") => new(site, function, reason, 1_000, 1);

    private static DropSample Sample(string? inPort) => new(1, "udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", 0x0800, inPort, 60, null);

    [Theory]
    [InlineData("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF")]
    [InlineData("nf_hook_slow+0x45 [nf_conntrack]", "nf_hook_slow", "NETFILTER_DROP")]
    [InlineData("__kfree_skb.part.0+0x1c", "__kfree_skb.part.0", null)]
    [InlineData("bpf_prog_6deef7357e7b4530_drop+0x3c [bpf]", "bpf_prog_6deef7357e7b4530_drop", "REASON_77")]
    [InlineData("0xffffffffc0a01234+0x0", "0xffffffffc0a01234", null)]
    [InlineData("0xffffffffc0a01234", "0xffffffffc0a01234", null)]
    [InlineData("hardware (rx_dropped rose)", "hardware", null)]
    [InlineData("ttl_value_is_too_small (hardware trap)", "ttl_value_is_too_small", null)]
    public void Sites_as_agents_write_them_pass(string site, string function, string? reason) =>
        Assert.Null(BatchCheck.Problem(Hello, Batch([Bucket(site, function, reason)])));

    [Theory]
    [InlineData("Udp.RcvbufErrors")]
    [InlineData("TcpExt.ListenOverflows")]
    [InlineData("Softnet.cpu12.dropped")]
    [InlineData("Dev.eth0.100.rx_dropped")]
    [InlineData("Dev.br-1a2b3c4d5e6f.tx_dropped")]
    [InlineData("Dev.vxlan.calico.rx_dropped")]
    [InlineData("Icmp6.InType133")]
    public void Counter_names_the_sampler_makes_pass(string name) =>
        Assert.Null(BatchCheck.Problem(Hello, Batch(counters: [new CounterDelta(name, 3, 1_000)])));

    [Theory]
    [InlineData(null)]
    [InlineData("eth0")]
    [InlineData("enp0s31f6")]
    [InlineData("veth1a2b3c4d5e6")]
    [InlineData("ifindex 7")]
    public void In_ports_as_netdm_reports_them_pass(string? port) =>
        Assert.Null(BatchCheck.Problem(Hello, Batch(samples: [Sample(port)])));

    [Fact]
    public void A_host_name_may_be_any_printable_text()
    {
        var hello = Hello with { HostName = "büro <rack 3> \"edge\"" };
        Assert.Null(BatchCheck.Problem(hello, Batch()));
    }

    [Theory]
    [InlineData("<img src=x onerror=alert(1)>+0x1", "<img src=x onerror=alert(1)>", "drops[1].function '<img src=x onerror=alert(1)>' is not a kernel symbol")]
    [InlineData("f+0x1", "f\"onmouseover=\"x", "drops[1].function 'f\"onmouseover=\"x' is not a kernel symbol")]
    [InlineData("f x+0x1", "f x", "drops[1].function 'f x' is not a kernel symbol")]
    [InlineData("g+0x1", "f", "drops[1].site 'g+0x1' is not 'f+0xOFFSET'")]
    [InlineData("f+0x1/0x<svg onload=x>", "f", "drops[1].site 'f+0x1/0x<svg onload=x>' is not")]
    [InlineData("f+0x1 [<b>mod</b>]", "f", "drops[1].site 'f+0x1 [<b>mod</b>]' is not")]
    [InlineData("f+1", "f", "drops[1].site 'f+1' is not")]
    [InlineData("f (<script>)", "f", "drops[1].site 'f (<script>)' is not")]
    public void Functions_and_sites_that_are_not_kernel_symbols_are_refused_by_field_and_index(string site, string function, string problem)
    {
        var refused = BatchCheck.Problem(Hello, Batch([Bucket("f+0x1", "f"), Bucket(site, function)]));
        Assert.StartsWith(problem, refused);
    }

    [Fact]
    public void A_function_longer_than_a_kernel_symbol_is_refused()
    {
        var function = new string('f', ImportLimits.MaxSymbol + 1);
        Assert.StartsWith("drops[0].function", BatchCheck.Problem(Hello, Batch([Bucket($"{function}+0x1", function)])));
    }

    [Theory]
    [InlineData("socket_rcvbuff")]
    [InlineData("SOCKET RCVBUFF")]
    [InlineData("<b>X</b>")]
    [InlineData("")]
    public void Reasons_outside_upper_case_digits_and_underscore_are_refused(string reason) =>
        Assert.StartsWith("drops[0].reason", BatchCheck.Problem(Hello, Batch([Bucket("f+0x1", "f", reason)])));

    [Fact]
    public void A_namespace_name_may_be_printable_text_up_to_a_label_and_is_refused_past_it_or_with_a_line_break()
    {
        Assert.Null(BatchCheck.Problem(Hello, Batch([Bucket("f+0x1", "f") with { Netns = 4026532300, NetnsName = "docker 3f1e2d4c5b6a" }])));
        Assert.StartsWith("drops[0].netnsName", BatchCheck.Problem(Hello, Batch([Bucket("f+0x1", "f") with { Netns = 1, NetnsName = "blue\nfake log line" }])));
        Assert.StartsWith("drops[0].netnsName", BatchCheck.Problem(Hello, Batch([Bucket("f+0x1", "f") with { Netns = 1, NetnsName = new string('n', ImportLimits.MaxLabel + 1) }])));
    }

    [Fact]
    public void Frees_are_checked_like_drops()
    {
        var batch = Batch() with { Frees = [Bucket("f+0x1", "f"), Bucket("<i>+0x1", "<i>")] };
        Assert.StartsWith("frees[1].function '<i>'", BatchCheck.Problem(Hello, batch));
    }

    [Theory]
    [InlineData("Dev.<img src=x>.rx_dropped")]
    [InlineData("Udp.In Errors")]
    [InlineData("Dev.eth0/1.rx_dropped")]
    [InlineData("Udp.InErrors\n2024-01-01 fake log line")]
    public void Counter_names_outside_the_rule_are_refused_by_index(string name)
    {
        var refused = BatchCheck.Problem(Hello, Batch(counters: [new CounterDelta("Udp.InErrors", 1, 1_000), new CounterDelta(name, 1, 1_000)]));
        Assert.StartsWith("counters[1].name", refused);
        Assert.DoesNotContain("\n", refused);
    }

    [Fact]
    public void A_counter_name_longer_than_the_bound_is_refused() =>
        Assert.StartsWith("counters[0].name", BatchCheck.Problem(Hello, Batch(counters: [new CounterDelta("Udp." + new string('X', ImportLimits.MaxCounterName), 1, 1_000)])));

    [Theory]
    [InlineData("eth0 ")]
    [InlineData("<b>eth0</b>")]
    [InlineData("a-device-name-too-long")]
    [InlineData("ifindex -1")]
    [InlineData("")]
    public void In_ports_that_are_no_device_name_are_refused(string port) =>
        Assert.StartsWith("samples[0].inPort", BatchCheck.Problem(Hello, Batch(samples: [Sample(port)])));

    [Fact]
    public void Sample_sites_are_checked_like_drops() =>
        Assert.StartsWith("samples[0].function '<svg onload=x>'",
            BatchCheck.Problem(Hello, Batch(samples: [Sample(null) with { Site = "<svg onload=x>+0x1", Function = "<svg onload=x>" }])));

    [Theory]
    [InlineData("hostName", "edge\u0007", "U+0007")]
    [InlineData("hostName", "edge\u202Eevil", "U+202E")]
    [InlineData("hostName", "edge\nnext", "U+000A")]
    [InlineData("hostId", "id\u0000", "U+0000")]
    [InlineData("kernelRelease", "6.1\u001b[31m", "U+001B")]
    [InlineData("source", "tracepoint\r", "U+000D")]
    public void Hello_text_with_unprintable_characters_is_refused(string field, string text, string character)
    {
        var hello = field switch
        {
            "hostName" => Hello with { HostName = text },
            "hostId" => Hello with { HostId = text },
            "kernelRelease" => Hello with { KernelRelease = text },
            _ => Hello with { Source = text },
        };
        var refused = BatchCheck.Problem(hello, Batch() with { HostId = hello.HostId });
        Assert.StartsWith($"hello.{field}", refused);
        Assert.Contains(character, refused);
        Assert.DoesNotContain("\n", refused);
        Assert.DoesNotContain("\r", refused);
    }

    [Fact]
    public void Host_names_longer_than_a_dns_name_are_refused()
    {
        var hello = Hello with { HostName = new string('h', ImportLimits.MaxHostName + 1) };
        var refused = BatchCheck.Problem(hello, Batch());
        Assert.StartsWith("hello.hostName ", refused);
        Assert.Contains($"at most {ImportLimits.MaxHostName}", refused);
    }

    [Fact]
    public void A_broken_surrogate_is_refused()
    {
        var hello = Hello with { HostName = "edge\uD800" };
        Assert.StartsWith("hello.hostName", BatchCheck.Problem(hello, Batch()));
    }

    [Fact]
    public void An_old_agent_without_instance_id_passes_but_a_missing_kernel_release_does_not()
    {
        Assert.Null(BatchCheck.Problem(Hello with { InstanceId = "" }, Batch()));
        Assert.Equal("hello.kernelRelease is missing", BatchCheck.Problem(Hello with { KernelRelease = null! }, Batch()));
    }

    private static AgentBatch WithTexts(Dictionary<string, string> texts) => Batch() with { CounterTexts = texts };

    [Fact]
    public void Rule_texts_as_the_agent_sends_them_pass()
    {
        var texts = new Dictionary<string, string>
        {
            ["Netfilter.inet.dropboard.input.4"] = "meta l4proto 17 th dport 7003 counter drop comment \"büro <rack 3>\"",
            ["Netfilter.ip.filter.INPUT.12"] = new string('x', ImportLimits.MaxCounterText),
        };
        Assert.Null(BatchCheck.Problem(Hello, WithTexts(texts)));
    }

    [Theory]
    [InlineData("Netfilter.ip.<b>x</b>.INPUT.5", "drop", "counterTexts: 'Netfilter.ip.<b>x</b>.INPUT.5' is not a counter name")]
    [InlineData("", "drop", "counterTexts: '' is not a counter name")]
    [InlineData("Netfilter.ip.filter.INPUT.5", "counter drop\n2024-01-01 fake log line", "counterTexts['Netfilter.ip.filter.INPUT.5'] 'counter drop")]
    [InlineData("Netfilter.ip.filter.INPUT.5", "drop\u202Eevil", "counterTexts['Netfilter.ip.filter.INPUT.5'] 'drop")]
    [InlineData("Netfilter.ip.filter.INPUT.5", "", "counterTexts['Netfilter.ip.filter.INPUT.5'] is missing")]
    public void Counter_texts_with_no_counter_name_or_unprintable_text_are_refused(string name, string text, string problem)
    {
        var refused = BatchCheck.Problem(Hello, WithTexts(new() { [name] = text }));
        Assert.StartsWith(problem, refused);
        Assert.DoesNotContain("\n", refused);
    }

    [Fact]
    public void A_counter_text_longer_than_the_bound_is_refused()
    {
        var refused = BatchCheck.Problem(Hello, WithTexts(new() { ["Netfilter.ip.filter.INPUT.5"] = new string('x', ImportLimits.MaxCounterText + 1) }));
        Assert.StartsWith("counterTexts['Netfilter.ip.filter.INPUT.5'] is 513 characters long", refused);
    }

    [Fact]
    public void More_counter_texts_than_counters_a_batch_may_carry_are_refused()
    {
        var texts = Enumerable.Range(0, BatchCheck.MaxCounters + 1).ToDictionary(i => $"Netfilter.ip.filter.INPUT.{i}", _ => "counter drop");
        Assert.Equal($"too large: {BatchCheck.MaxCounters + 1} counter texts, at most {BatchCheck.MaxCounters}", BatchCheck.Problem(Hello, WithTexts(texts)));
    }

    private static AgentBatch Flows(params FlowSite[] sites) => Batch() with { Flows = sites };

    private static FlowSite FlowSite(params DroppedFlow[] top) => new("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", 10, 90, top, 4026532246, "blue");

    [Fact]
    public void Flows_as_the_bpf_agent_sends_them_pass()
    {
        Assert.Null(BatchCheck.Problem(Hello, Flows(FlowSite(new DroppedFlow(17, "127.0.0.1", 7104, "127.0.0.1", 7105, 6, 1), new DroppedFlow(6, "fd00::1", 443, "fe80::1", 5000, 4)))));
    }

    [Theory]
    [InlineData("<img src=x>", "flows[0].top[0]: source '<img src=x>' is not an IP address")]
    [InlineData("1", "flows[0].top[0]: source '1' is not an IP address")]
    [InlineData("010.0.0.1", "flows[0].top[0]: source '010.0.0.1' is not an IP address")]
    public void A_flow_address_that_is_not_plain_address_text_is_refused(string source, string problem) =>
        Assert.Equal(problem, BatchCheck.Problem(Hello, Flows(FlowSite(new DroppedFlow(17, source, 1, "10.0.0.2", 2, 1)))));

    [Fact]
    public void Flow_sites_are_bounded_and_their_counts_and_names_checked()
    {
        var eleven = Enumerable.Range(1, 11).Select(p => new DroppedFlow(17, "10.0.0.1", (ushort)p, "10.0.0.2", 53, 1)).ToArray();
        Assert.Equal("flows[0]: 11 top flows, at most 10", BatchCheck.Problem(Hello, Flows(FlowSite(eleven))));
        Assert.StartsWith("flows[0]: a flow site has no top list or a negative count", BatchCheck.Problem(Hello, Flows(FlowSite() with { NotSampled = -1 })));
        Assert.StartsWith("flows[0].netnsName", BatchCheck.Problem(Hello, Flows(FlowSite() with { NetnsName = "blue\u202e" })));
        Assert.StartsWith("flows[0].function", BatchCheck.Problem(Hello, Flows(FlowSite() with { Function = "<script>" })));
        Assert.StartsWith("too large: 16385 flow sites", BatchCheck.Problem(Hello, Flows([.. Enumerable.Repeat(FlowSite(), BatchCheck.MaxFlowSites + 1)])));
    }

    private static AgentBatch Paths(params PathSite[] sites) => Batch() with { Paths = sites };

    private static readonly string[] ReceivePath = ["udp_queue_rcv_one_skb+0x437", "udp_unicast_rcv_skb+0x74", "ip_protocol_deliver_rcu+0xb3", "nf_hook_slow+0x45 [nf_conntrack]"];

    private static PathSite PathSite(params StackPath[] top) =>
        new("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", top.Sum(p => p.Drops) + 3, top, 3, 4026532246, "blue");

    [Fact]
    public void Paths_as_the_agent_sends_them_pass()
    {
        Assert.Null(BatchCheck.Problem(Hello, Paths(PathSite(new StackPath(ReceivePath, 90), new StackPath([], 7, "EEXIST")))));
    }

    [Theory]
    [InlineData("<img src=x onerror=alert(1)>+0x1", "paths[0].top[0]: frames[1] '<img src=x onerror=alert(1)>+0x1' is not a kernel address")]
    [InlineData("udp_rcv", "paths[0].top[0]: frames[1] 'udp_rcv' is not a kernel address")]
    [InlineData("udp_rcv+0x1 [<b>]", "paths[0].top[0]: frames[1] 'udp_rcv+0x1 [<b>]' is not a kernel address")]
    [InlineData("udp_rcv+0x01", "paths[0].top[0]: frames[1] 'udp_rcv+0x01' is not a kernel address")]
    public void A_frame_that_is_not_a_kernel_address_as_the_agent_writes_it_is_refused(string frame, string problem) =>
        Assert.StartsWith(problem, BatchCheck.Problem(Hello, Paths(PathSite(new StackPath([ReceivePath[0], frame], 5)))));

    [Fact]
    public void Path_sites_are_bounded_their_drops_add_up_and_their_names_are_checked()
    {
        var path = new StackPath(ReceivePath, 1);
        Assert.Equal("paths[0]: 6 top paths, at most 5", BatchCheck.Problem(Hello, Paths(PathSite(path, path, path, path, path, path))));
        Assert.Equal("paths[0].top[0]: 17 frames, at most 16",
            BatchCheck.Problem(Hello, Paths(PathSite(new StackPath([.. Enumerable.Repeat(ReceivePath[1], 17)], 1)))));
        Assert.StartsWith("paths[0].top[0]: missing '<b>' is not an errno name", BatchCheck.Problem(Hello, Paths(PathSite(new StackPath([], 1, "<b>")))));
        Assert.Equal("paths[0]: its paths' drops and the other drops make 4, not the site's 5", BatchCheck.Problem(Hello, Paths(PathSite(path) with { Drops = 5 })));
        Assert.StartsWith("paths[0]: a path site has no top list or a negative count", BatchCheck.Problem(Hello, Paths(PathSite(path) with { Other = -1 })));
        Assert.StartsWith("paths[0].netnsName", BatchCheck.Problem(Hello, Paths(PathSite(path) with { NetnsName = "blue\u202e" })));
        Assert.StartsWith("paths[0].function", BatchCheck.Problem(Hello, Paths(PathSite(path) with { Function = "<script>" })));
        Assert.StartsWith("too large: 16385 path sites", BatchCheck.Problem(Hello, Paths([.. Enumerable.Repeat(PathSite(path), BatchCheck.MaxFlowSites + 1)])));
    }
}
