using BenchmarkDotNet.Attributes;
using DropBoard.Agent.Aggregation;
using DropBoard.Agent.Capture.Tracepoint;
using DropBoard.Agent.Symbols;

namespace DropBoard.Benchmarks.Capture;

/// <summary>
/// Ring-record decode + symbolize + aggregate, per sample, against a plain copy of the same bytes (the
/// floor any reader pays). Input: perf ring bytes recorded from real drops on 6.18.
/// </summary>
[ShortRunJob]
[MemoryDiagnoser]
public class DecodeBenchmarks
{
    private byte[] _ring = [];
    private byte[] _interleaved = [];
    private byte[] _copy = [];
    private int _samples;
    private DropAggregator _aggregator = null!;
    private PerfRecordDecoder _decoder = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ring = File.ReadAllBytes(Fixtures.Path("tracepoint", "ring-kfree_skb-6.18.bin"));
        _copy = new byte[_ring.Length];
        var format = TracepointFormat.Parse(File.ReadAllText(Fixtures.Path("tracepoint", "kfree_skb-format-6.18.txt")));
        _aggregator = new DropAggregator(Symbolizer.FromText(File.ReadAllText(Fixtures.Path("tracepoint", "ring-kfree_skb-6.18.kallsyms"))));
        _decoder = new PerfRecordDecoder(KfreeSkbLayout.From(format), format.ReasonNames, _aggregator, 0);
        _decoder.DecodeAll(_ring);
        _samples = (int)_decoder.Samples;
        _interleaved = Interleave(_ring);
        Console.WriteLine($"// ring fixture: {_ring.Length} bytes, {_samples} samples");
    }

    /// <summary>
    /// The same records reordered so that no two neighbours share a site: the worst case for the
    /// aggregator's run cache, where every sample goes through the table.
    /// </summary>
    private static byte[] Interleave(byte[] ring)
    {
        var records = new List<byte[]>();
        for (var at = 0; at < ring.Length;)
        {
            var size = BitConverter.ToUInt16(ring, at + 6);
            records.Add(ring[at..(at + size)]);
            at += size;
        }
        // Raw data starts at 28 and the location at raw+16: group by location, then deal the groups out in turn.
        var groups = records.GroupBy(r => r.Length >= 52 ? BitConverter.ToUInt64(r, 44) : 0).Select(g => new Queue<byte[]>(g)).ToList();
        var output = new List<byte>(ring.Length);
        while (groups.Any(g => g.Count > 0))
            foreach (var g in groups.Where(g => g.Count > 0))
                output.AddRange(g.Dequeue());
        return [.. output];
    }

    [Benchmark(Baseline = true)]
    public void CopyRingBytes() => _ring.CopyTo(_copy, 0);

    [Benchmark]
    public int DecodeSymbolizeAggregate()
    {
        _decoder.DecodeAll(_ring);
        _aggregator.Commit();
        return _aggregator.Flush().Count;
    }

    [Benchmark]
    public int DecodeSymbolizeAggregateInterleavedSites()
    {
        _decoder.DecodeAll(_interleaved);
        _aggregator.Commit();
        return _aggregator.Flush().Count;
    }
}
