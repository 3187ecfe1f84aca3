using DropBoard.Agent.Capture;
using DropBoard.Agent.Pipeline;

namespace DropBoard.Agent;

/// <summary>How the commands start capturing: the pipeline, or the one-line reason and its fix on stderr.</summary>
public static class CaptureStart
{
    public static async Task<AgentPipeline?> StartOrSayWhyAsync(AgentOptions options)
    {
        try
        {
            return AgentPipeline.Start(options);
        }
        catch (CaptureUnavailableException e)
        {
            await Console.Error.WriteLineAsync($"dropboard-agent: cannot capture: {e.Message}. Fix: {e.Fix}");
            return null;
        }
    }
}
