using DropBoard.Agent.Capture;
using DropBoard.Agent.Pipeline;
using DropBoard.Shared.Contracts;

namespace DropBoard.Web.Live;

/// <summary>What the embedded agent is doing, for the page to say.</summary>
public sealed record EmbeddedAgentStatus(bool Enabled, bool Capturing, string Message, string? Fix);

/// <summary>
/// Captures on the machine the dashboard runs on, through the same pipeline and the same door as a remote
/// agent. When the process may not capture (not root, no CAP_PERFMON) it says why and keeps serving.
/// </summary>
public sealed class EmbeddedAgent(BatchIngest ingest, IConfiguration configuration, ILogger<EmbeddedAgent> logger) : BackgroundService
{
    public EmbeddedAgentStatus Status { get; private set; } = new(true, false, "starting", null);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!configuration.GetValue("DropBoard:EmbeddedAgent", true))
        {
            Status = new(false, false, "the embedded agent is turned off (DropBoard:EmbeddedAgent=false)", null);
            return;
        }
        await Task.Yield();
        AgentPipeline pipeline;
        try
        {
            // Counters of another namespace than the dashboard's own (a container's, a test's), when asked.
            pipeline = AgentPipeline.Start(new AgentOptions { NetNamespace = configuration["DropBoard:EmbeddedAgentNetNamespace"] });
        }
        catch (CaptureUnavailableException e)
        {
            Status = new(true, false, $"this dashboard cannot capture on its own host: {e.Message}", $"{e.Fix}; or run a privileged agent: sudo dropboard-agent run --server URL --token TOKEN");
            logger.LogWarning("Embedded agent not capturing: {Message} ({Fix})", e.Message, e.Fix);
            return;
        }

        await using (pipeline)
        {
            Status = new(true, true, pipeline.SourceNote, null);
            logger.LogInformation("Embedded agent capturing on {Host}: {Note}", pipeline.Hello.HostName, pipeline.SourceNote);
            using var stop = stoppingToken.Register(() => _ = pipeline.DisposeAsync().AsTask());
            try
            {
                await foreach (var batch in pipeline.Batches.ReadAllAsync(CancellationToken.None))
                    await IngestUntilStoredAsync(pipeline.Hello, batch, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // Stopping while the store could not take a batch: the restart is marked as a gap.
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                Status = new(true, false, $"capture stopped: {e.Message}", "see the dashboard's log");
                logger.LogError(e, "Embedded agent stopped");
            }
        }
    }

    /// <summary>
    /// The embedded agent has no spool: a batch the store could not take now waits here and is offered again, its
    /// followers queue behind it in the pipeline.
    /// </summary>
    private async Task IngestUntilStoredAsync(AgentHello hello, AgentBatch batch, CancellationToken stoppingToken)
    {
        var wait = TimeSpan.FromSeconds(1);
        while ((await ingest.IngestAsync(hello, batch, CancellationToken.None)).Rejection == BatchRejection.Retry)
        {
            await Task.Delay(wait, stoppingToken);
            wait = TimeSpan.FromSeconds(Math.Min(30, wait.TotalSeconds * 2));
        }
    }
}
