using BenchmarkDotNet.Running;
using DropBoard.Benchmarks.Capture;

// `flood` is a measurement on the live kernel, not a BenchmarkDotNet micro-benchmark.
if (args is ["flood", ..])
    return FloodHarness.Run(args);

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
