using BenchmarkDotNet.Running;
using DropBoard.Benchmarks.Access;
using DropBoard.Benchmarks.Capture;
using DropBoard.Benchmarks.Live;
using DropBoard.Benchmarks.Sessions;

// `flood`, `samplecost`, `mapread`, `stacks`, `footprint`, `latency`, `fanin`, `replicas`, `soak`, `livememory`, `sessions` and `access` measure the real system end to end; they are not BenchmarkDotNet micro-benchmarks.
switch (args)
{
    case ["flood", ..]: return await FloodHarness.RunAsync(args);
    case ["samplecost", ..]: return SampleCostHarness.Run(args);
    case ["mapread", ..]: return MapReadHarness.Run(args);
    case ["stacks", ..]: return await StacksHarness.RunAsync(args);
    case ["footprint", ..]: return await FootprintHarness.RunAsync(args);
    case ["latency", ..]: return await LatencyHarness.RunAsync(args);
    case ["fanin", ..]: return await FanInHarness.RunAsync(args);
    case ["fanin-agents", _, _]: return await FanInHarness.AgentsAsync(args);
    case ["replicas", ..]: return await ReplicaFanInHarness.RunAsync(args);
    case ["soak", ..]: return await SoakHarness.RunAsync(args);
    case ["livememory", ..]: return await LiveMemoryHarness.RunAsync(args);
    case ["sessions", ..]: return await SessionsHarness.RunAsync(args);
    case ["access", ..]: return await AccessCostHarness.RunAsync(args);
}

BenchmarkSwitcher.FromAssembly(typeof(FloodHarness).Assembly).Run(args);
return 0;
