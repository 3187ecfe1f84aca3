using System.CommandLine;
using System.Runtime.InteropServices;
using DropBoard.Agent.NetDm;
using DropBoard.Agent.Uplink;
using DropBoard.Agent.Watch;

var root = new RootCommand("dropboard-agent: captures kernel packet drops and network counters")
{
    WatchCommand.Create(),
    RunCommand.Create(),
    NetDmStopCommand.Create(),
};

// Ctrl-C and SIGTERM are ours from the first instruction: System.CommandLine registers its handlers only
// once a command's synchronous start has run, and a signal in between (just after "watching" was printed)
// killed the agent outright, leaving the kernel's NET_DM monitor running. A stop then drains what the
// kernel still holds, stops the monitor and prints the summary; a second signal is not held back.
using var shutdown = new CancellationTokenSource();
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, shutdown.Token);

void Stop(PosixSignalContext context)
{
    if (shutdown.IsCancellationRequested) return;
    context.Cancel = true;
    shutdown.Cancel();
}
