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
return await root.Parse(args).InvokeAsync();
