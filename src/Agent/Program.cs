using System.CommandLine;
using DropBoard.Agent.Capture.NetDm;
using DropBoard.Agent.Uplink;
using DropBoard.Agent.Watch;

var root = new RootCommand("dropboard-agent: captures kernel packet drops and network counters")
{
    WatchCommand.Create(),
    RunCommand.Create(),
    NetDmStopCommand.Create(),
};
// On Ctrl-C or SIGTERM the agent drains what the kernel still holds (NET_DM sends summary counts up to a
// second late), stops the kernel's drop monitor and prints its summary: give it that time before the
// default 2 s forced exit.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(15) });
