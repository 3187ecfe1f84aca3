using BenchmarkDotNet.Attributes;
using DropBoard.Agent.Counters;

namespace DropBoard.Benchmarks.Counters;

/// <summary>
/// Parsing the five real /proc/net files of 6.18 into a reused snapshot (what every counter sample does),
/// against a plain copy of the same bytes (the floor any reader pays).
/// </summary>
[ShortRunJob]
[MemoryDiagnoser]
public class CounterParseBenchmarks
{
    private byte[][] _texts = [];
    private byte[] _copy = [];
    private CounterSnapshot _previous = null!;
    private CounterSnapshot _current = null!;

    [GlobalSetup]
    public void Setup()
    {
        _texts = [.. CounterSampler.Files.Select(f => File.ReadAllBytes(Fixtures.Path("counters", $"{f.Name}-6.18.txt")))];
        _copy = new byte[_texts.Sum(t => t.Length)];
        var names = new CounterNames();
        _previous = new CounterSnapshot(names);
        _current = new CounterSnapshot(names);
        ParseAll(_previous);
        Console.WriteLine($"// five files: {_copy.Length} bytes, {_previous.Values.Count} counters");
    }

    [Benchmark(Baseline = true)]
    public int CopyFiveFiles()
    {
        var at = 0;
        foreach (var text in _texts)
        {
            text.CopyTo(_copy, at);
            at += text.Length;
        }
        return at;
    }

    [Benchmark]
    public int ParseFiveFiles()
    {
        ParseAll(_current);
        return _current.Values.Count;
    }

    /// <summary>Parse plus the comparison with the previous snapshot: the whole pure part of a sample.</summary>
    [Benchmark]
    public int ParseFiveFilesAndDelta()
    {
        ParseAll(_current);
        return CounterDeltas.Between(_previous, _current, 0).Count;
    }

    private void ParseAll(CounterSnapshot into)
    {
        into.Clear();
        var files = CounterSampler.Files;
        for (var i = 0; i < files.Length; i++) files[i].Parse(_texts[i], files[i].Name, into);
    }
}

/// <summary>
/// A whole <see cref="CounterSampler.Sample"/> on this machine's live /proc/net (kernel text generation
/// included), against only reading the same five files into reused buffers.
/// </summary>
[ShortRunJob]
[MemoryDiagnoser]
public class CounterSampleBenchmarks
{
    private ProcNetFile[] _files = [];
    private CounterSampler _sampler = null!;

    [GlobalSetup]
    public void Setup()
    {
        _files = [.. CounterSampler.Files.Select(f => new ProcNetFile(f.Name, File.OpenHandle($"/proc/net/{f.Name}")))];
        _sampler = new CounterSampler();
        _sampler.Sample(0);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (var file in _files) file.Dispose();
        _sampler.Dispose();
    }

    [Benchmark(Baseline = true)]
    public int ReadFiveFiles()
    {
        var bytes = 0;
        foreach (var file in _files) bytes += file.ReadAll().Length;
        return bytes;
    }

    [Benchmark]
    public int Sample() => _sampler.Sample(0).Count;
}
