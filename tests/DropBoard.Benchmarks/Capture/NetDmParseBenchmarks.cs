using DropBoard.Agent.Netlink;
using BenchmarkDotNet.Attributes;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture;
using DropBoard.Agent.Capture.NetDm;
using DropBoard.Agent.Symbols;
using DropBoard.Shared.Contracts;

namespace DropBoard.Benchmarks.Capture;

/// <summary>
/// NET_DM packet-mode messages recorded from a real 6.1 drop_monitor (300 UDP receive-buffer drops): parse
/// alone, and parse + aggregate as the agent does, against a plain copy of the same bytes message by message
/// (what receiving them costs at the least). Per operation = all 300 messages.
/// </summary>
[ShortRunJob]
[MemoryDiagnoser]
public class NetDmParseBenchmarks
{
    private byte[][] _messages = [];
    private byte[] _buffer = [];
    private DropAggregator _aggregator = null!;
    private NetDmDecoder _decoder = null!;

    [GlobalSetup]
    public void Setup()
    {
        var recording = NetlinkRecording.Read(Fixtures.Path("netdm", "packet-udp-rcvbuf.rec"));
        _messages = [.. recording.Where(d => d.Kind == "event").Select(d => d.Bytes)];
        _buffer = new byte[_messages.Max(m => m.Length)];
        _aggregator = new DropAggregator(Symbolizer.FromText(File.ReadAllText(Fixtures.Path("netdm", "kallsyms-excerpt.txt"))));
        var familyId = BitConverter.ToUInt16(_messages[0], 4);
        _decoder = new NetDmDecoder(familyId, _aggregator, new CappedSamples());
        Console.WriteLine($"// {_messages.Length} packet alerts, {_messages.Sum(m => m.Length)} bytes");
    }

    [Benchmark(Baseline = true)]
    public int CopyMessages()
    {
        var total = 0;
        foreach (var m in _messages)
        {
            m.CopyTo(_buffer, 0);
            total += _buffer[m.Length - 1];
        }
        return total;
    }

    [Benchmark]
    public ulong ParsePacketAlerts()
    {
        ulong sum = 0;
        foreach (var m in _messages)
            foreach (var message in new NetlinkDatagram(m))
            {
                var alert = NetDmAlerts.ParsePacket(message);
                sum += alert.Pc + (ulong)alert.Payload.Length;
            }
        return sum;
    }

    [Benchmark]
    public int DecodeAndAggregate()
    {
        foreach (var m in _messages) _decoder.Decode(m);
        _aggregator.Commit();
        return _aggregator.Flush().Count;
    }

    // The uplink's sample cap when it is full: the steady state under a drop storm.
    private sealed class CappedSamples : IDropSampleSink
    {
        public bool Admit() => false;

        public void OnSample(DropSample sample) => throw new InvalidOperationException("not admitted");
    }
}
