using System.CommandLine;
using System.Net;
using System.Net.Http.Json;
using DropBoard.Agent.Capture;
using DropBoard.Agent.Pipeline;
using DropBoard.Agent.Watch;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;

namespace DropBoard.Agent.Uplink;

/// <summary>
/// <c>dropboard-agent run --server URL --token TOKEN</c>: captures and streams batches to the dashboard's hub.
/// Every batch goes through the disk spool first and leaves it only when the server acknowledged it, so a
/// server restart or a network cut loses nothing; the server drops repeats, so nothing counts twice.
/// </summary>
public static class RunCommand
{
    /// <summary>The hub's answer (DropBoard.Web.Hub.BatchAck on the other side of the wire).</summary>
    private sealed record BatchAck(long Sequence, bool Duplicate, string? Rejected);

    private const string TooFast = "too fast";

    public static Command Create()
    {
        var server = new Option<Uri>("--server")
        {
            Description = "Dashboard URL, e.g. http://dashboard:5080",
            Required = true,
            CustomParser = result =>
            {
                var text = result.Tokens.Single().Value;
                if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https") return uri;
                result.AddError($"--server '{text}' is not an http:// or https:// URL");
                return null;
            },
        };
        var token = new Option<string>("--token") { Description = "The dashboard's DropBoard:AgentToken", Required = true };
        var spool = new Option<string>("--spool")
        {
            Description = "Directory for batches the server has not acknowledged yet",
            DefaultValueFactory = _ => "/var/lib/dropboard-agent/spool",
        };
        var spoolMax = new Option<int>("--spool-max")
        {
            Description = "Batches kept while the server is away (4 a second); the oldest go first, counted",
            DefaultValueFactory = _ => 20_000,
        };
        var session = new Option<string?>("--session")
        {
            Description = "Record this host into a new dashboard session of this name, stopped when the agent stops",
        };
        var command = new Command("run", "Capture drops and counters and stream them to a DropBoard dashboard")
        {
            server, token, spool, spoolMax, session, WatchCommand.SourceOption, WatchCommand.NetNsOption, WatchCommand.ModeOption,
        };
        command.SetAction((result, cancellationToken) => RunAsync(
            result.GetValue(server)!, result.GetValue(token)!, result.GetValue(session), new Spool(result.GetValue(spool)!, result.GetValue(spoolMax)),
            new AgentOptions
            {
                Source = result.GetValue(WatchCommand.SourceOption),
                NetNamespace = result.GetValue(WatchCommand.NetNsOption),
                NetDm = new() { Mode = result.GetValue(WatchCommand.ModeOption) },
            },
            cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(Uri server, string token, string? sessionName, Spool spool, AgentOptions options, CancellationToken cancellationToken)
    {
        if (await AgentPipeline.StartOrSayWhyAsync(options) is not { } pipeline) return AgentPipeline.CannotCaptureExitCode;
        await Console.Error.WriteLineAsync($"dropboard-agent: {pipeline.SourceNote}; streaming to {server}");

        var hub = new Uri(server, "hubs/agent");
        await using var connection = new HubConnectionBuilder()
            .WithUrl(hub, o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
            .Build();
        var spooled = new SemaphoreSlim(0);
        using var stop = cancellationToken.Register(() => _ = pipeline.DisposeAsync().AsTask());

        var capture = Task.Run(async () =>
        {
            await foreach (var batch in pipeline.Batches.ReadAllAsync(CancellationToken.None))
            {
                spool.Append(pipeline.Hello, batch);
                spooled.Release();
            }
        }, CancellationToken.None);

        using var api = new HttpClient { BaseAddress = server, Timeout = TimeSpan.FromSeconds(10) };
        api.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        long? sessionId = null;
        var exitCode = 0;
        var backoff = TimeSpan.FromSeconds(1);
        long evictedReported = 0;
        while (true)
        {
            if (spool.Evicted > evictedReported)
            {
                await Console.Error.WriteLineAsync($"dropboard-agent: spool full, {spool.Evicted - evictedReported} oldest batches evicted (server away too long)");
                evictedReported = spool.Evicted;
            }
            if (spool.Oldest() is not { } next)
            {
                if (capture.IsCompleted) break;
                await spooled.WaitAsync(TimeSpan.FromSeconds(1), CancellationToken.None);
                continue;
            }
            try
            {
                if (connection.State == HubConnectionState.Disconnected)
                {
                    await connection.StartAsync(CancellationToken.None);
                    await Console.Error.WriteLineAsync($"dropboard-agent: connected to {hub}");
                    backoff = TimeSpan.FromSeconds(1);
                }
                if (sessionName is not null && sessionId is null)
                    sessionId = await StartSessionAsync(api, sessionName, pipeline.Hello.HostId);
                var ack = await connection.InvokeAsync<BatchAck>("Batch", next.Entry.Hello, next.Entry.Batch, CancellationToken.None);
                if (ack.Rejected is null)
                    spool.Remove(next.File);
                else if (ack.Rejected.StartsWith(TooFast, StringComparison.Ordinal))
                    await Task.Delay(TimeSpan.FromSeconds(1), CancellationToken.None);
                else
                {
                    // The server will never take this batch: keep it aside for inspection, go on with the next.
                    await Console.Error.WriteLineAsync($"dropboard-agent: server rejected batch {next.Entry.Batch.Sequence}: {ack.Rejected}; kept as {next.File}.rejected");
                    File.Move(next.File, next.File + ".rejected", overwrite: true);
                }
            }
            catch (HttpRequestException e) when (e.StatusCode == HttpStatusCode.Unauthorized)
            {
                await Console.Error.WriteLineAsync($"dropboard-agent: {server} refused the token (HTTP 401): check --token against the dashboard's DropBoard:AgentToken");
                exitCode = 5;
                break;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or InvalidOperationException or TimeoutException
                                          or OperationCanceledException or HubException)
            {
                if (capture.IsCompleted && cancellationToken.IsCancellationRequested) break; // stopping with the server away: the spool keeps the rest
                await Console.Error.WriteLineAsync($"dropboard-agent: server unreachable ({e.Message}); {spool.Count} batches spooled, retrying in {backoff.TotalSeconds:0} s");
                await Task.Delay(backoff, CancellationToken.None);
                backoff = TimeSpan.FromSeconds(Math.Min(30, backoff.TotalSeconds * 2));
            }
        }
        await pipeline.DisposeAsync();
        if (sessionId is { } id)
        {
            try
            {
                using var stopped = await api.PostAsync($"api/sessions/{id}/stop", null, CancellationToken.None);
                await Console.Error.WriteLineAsync($"dropboard-agent: session {id} stopped");
            }
            catch (HttpRequestException e)
            {
                await Console.Error.WriteLineAsync($"dropboard-agent: could not stop session {id} ({e.Message}); stop it on the dashboard");
            }
        }
        return exitCode;
    }

    private static async Task<long> StartSessionAsync(HttpClient api, string name, string hostId)
    {
        using var response = await api.PostAsJsonAsync("api/sessions", new { name, hosts = new[] { hostId } }, CancellationToken.None);
        response.EnsureSuccessStatusCode();
        var id = (await response.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(CancellationToken.None)).GetProperty("id").GetInt64();
        await Console.Error.WriteLineAsync($"dropboard-agent: recording into session {id} '{name}'");
        return id;
    }
}
