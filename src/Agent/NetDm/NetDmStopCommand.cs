using DropBoard.Agent.Netlink;
using System.CommandLine;
using DropBoard.Agent.Capture;
using DropBoard.Agent.Capture.NetDm;

namespace DropBoard.Agent.NetDm;

/// <summary>
/// <c>dropboard-agent netdm-stop</c>: switches the kernel's drop monitor off. A dropwatch or agent killed with
/// SIGKILL cannot stop it, and the kernel keeps tracing (and refuses a new start) until someone does.
/// </summary>
public static class NetDmStopCommand
{
    public static Command Create()
    {
        var command = new Command("netdm-stop", "Switch the kernel's NET_DM drop monitor off (left running by a killed dropwatch or agent)");
        command.SetAction(async _ =>
        {
            try
            {
                NetDmSource.StopAnyMonitor();
                await Console.Error.WriteLineAsync("dropboard-agent: the kernel's drop monitor is off");
                return ExitCodes.Ok;
            }
            catch (Exception e) when (e is CaptureUnavailableException or NetlinkErrorException or TimeoutException or NetlinkParseException)
            {
                await Console.Error.WriteLineAsync($"dropboard-agent: cannot stop the drop monitor: {e.Message}");
                return ExitCodes.CannotCapture;
            }
        });
        return command;
    }
}
