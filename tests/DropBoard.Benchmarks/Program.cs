using BenchmarkDotNet.Running;
using DropBoard.Benchmarks.Capture;
using DropBoard.Benchmarks.Live;
using DropBoard.Benchmarks.Sessions;

// `flood`, `latency`, `fanin` and `sessions` measure the real system end to end; they are not BenchmarkDotNet micro-benchmarks.
switch (args)
{
    case ["flood", ..]: return FloodHarness.Run(args);
    case ["latency", ..]: return await LatencyHarness.RunAsync(args);
    case ["fanin", ..]: return await FanInHarness.RunAsync(args);
    case ["sessions", ..]: return SessionsHarness.Run();
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
