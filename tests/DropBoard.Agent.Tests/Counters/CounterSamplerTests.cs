using System.Net;
using System.Net.Sockets;
using DropBoard.Agent.Counters;
using DropBoard.Agent.Tests.Kernel;
using DropBoard.TestKit;

namespace DropBoard.Agent.Tests.Counters;

/// <summary>The sampler on this machine's own /proc/net (no root needed, except where it makes drops).</summary>
public class CounterSamplerTests
{
    [Fact]
    public void The_first_sample_is_the_baseline_and_reads_all_five_files()
    {
        using var sampler = new CounterSampler();

        Assert.Empty(sampler.Sample(1000));

        var values = sampler.Latest!.Values;
        Assert.Empty(sampler.Problems);
        Assert.Contains("Udp.RcvbufErrors", values.Keys);
        Assert.Contains("TcpExt.ListenOverflows", values.Keys);
        Assert.Contains("Udp6.InErrors", values.Keys);
        Assert.Contains("Softnet.dropped", values.Keys);
        Assert.Contains("Dev.lo.rx_dropped", values.Keys);
    }

    [Fact]
    public void A_sample_holds_the_same_counters_as_the_files_read_directly()
    {
        using var sampler = new CounterSampler();
        sampler.Sample(1000);

        var direct = new CounterSnapshot();
        ProcNetParsers.ParseHeaderValuePairs(File.ReadAllBytes("/proc/net/snmp"), "snmp", direct);
        ProcNetParsers.ParseHeaderValuePairs(File.ReadAllBytes("/proc/net/netstat"), "netstat", direct);
        ProcNetParsers.ParseSnmp6(File.ReadAllBytes("/proc/net/snmp6"), "snmp6", direct);

        Assert.Subset(sampler.Latest!.Values.Keys.ToHashSet(), direct.Values.Keys.ToHashSet());
        Assert.Equal(direct.Values["Tcp.RtoMax"], sampler.Latest.Values["Tcp.RtoMax"]);
    }

    [Fact]
    public void A_file_bigger_than_the_buffer_is_read_whole()
    {
        using var file = new ProcNetFile("/proc/net/netstat", File.OpenHandle("/proc/net/netstat"), initialBufferSize: 64);

        var first = file.ReadAll().ToArray();
        var again = file.ReadAll().ToArray();

        var direct = File.ReadAllBytes("/proc/net/netstat");
        Assert.Equal(direct.Length, first.Length);
        Assert.Equal(direct.Length, again.Length);
        Assert.Equal(direct.AsSpan(0, direct.IndexOf((byte)'\n')), first.AsSpan(0, direct.IndexOf((byte)'\n')));
    }

    [Fact]
    public void An_unknown_namespace_is_a_clear_error()
    {
        var e = Assert.Throws<ArgumentException>(() => new CounterSampler("no-such-namespace-here"));

        Assert.Contains("/run/netns/no-such-namespace-here missing", e.Message);
    }
}

/// <summary>Makes real drops in the agent's own namespace, so it holds the kernel lock like every drop-making test.</summary>
[Collection(KernelCollection.Name)]
public class CounterSamplerOwnNamespaceTests
{
    [Fact]
    public void Datagrams_to_a_closed_port_raise_Udp_NoPorts_by_at_least_their_number()
    {
        using var _ = KernelTestLock.Acquire();
        using var sampler = new CounterSampler();
        sampler.Sample(1000);

        using (var sender = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp))
        {
            var closed = new IPEndPoint(IPAddress.Loopback, ClosedUdpPort());
            for (var i = 0; i < 300; i++) sender.SendTo(new byte[8], closed);
        }
        var deltas = sampler.Sample(2000);

        var noPorts = Assert.Single(deltas, d => d.Name == "Udp.NoPorts");
        Assert.InRange(noPorts.Delta, 300, long.MaxValue); // the host may add its own
        Assert.Equal(2000, noPorts.AtMs);
        Assert.All(deltas, d => Assert.True(d.Delta > 0, d.Name));
        Assert.Equal(deltas.Select(d => d.Name).Order(StringComparer.Ordinal), deltas.Select(d => d.Name));
    }

    /// <summary>A port the kernel just handed out and took back: nobody listens on it.</summary>
    private static int ClosedUdpPort()
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        probe.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }
}
