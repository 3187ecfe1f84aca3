using System.CommandLine;
using System.Net;
using System.Net.Http.Json;
using DropBoard.Agent.Capture;
using DropBoard.Agent.Pipeline;
using DropBoard.Agent.Privileges;
using DropBoard.Agent.Watch;
using DropBoard.Shared.Contracts;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace DropBoard.Agent.Uplink;

/// <summary>
/// <c>dropboard-agent run --server URL [--server URL…] --token-file PATH</c>: captures and streams batches to the dashboard's hub.
/// Every batch goes through the disk spool first and leaves it only when the server acknowledged it, so a
/// server restart or a network cut loses nothing; the server drops repeats, so nothing counts twice. With several
/// servers (dashboard replicas) a lost connection moves the agent to the next (<see cref="ServerList"/>).
/// </summary>
public static class RunCommand
{
    /// <summary>How long a stopping agent goes on sending while the dashboard asks it to wait (TooFast, Retry).</summary>
    private static readonly TimeSpan StopGrace = TimeSpan.FromSeconds(20);

    public static Command Create()
    {
        var server = new Option<Uri[]>("--server")
        {
            Description = "Dashboard URL, e.g. http://dashboard:5080; give several (--server A --server B, or A,B) for replicas: "
                          + "on a lost connection the agent goes on with the next",
            Required = true,
            CustomParser = result =>
            {
                var servers = new List<Uri>();
                foreach (var text in result.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
                {
                    if (Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https") servers.Add(uri);
                    else result.AddError($"--server '{text}' is not an http:// or https:// URL");
                }
                if (servers.Count is 0 or > 16) result.AddError("give 1 to 16 dashboard URLs with --server");
                return [.. servers];
            },
        };
        var token = new Option<string>("--token")
        {
            Description = "The credential itself: the dashboard's DropBoard:AgentToken or a per-host one. Prefer --token-file: "
                          + "the command line is visible to every user of this host in ps",
        };
        var tokenFile = new Option<string>("--token-file")
        {
            HelpName = "PATH",
            Description = "File holding the credential on its first line; it must be the agent user's own, mode 600",
        };
        var spool = new Option<string>("--spool")
        {
            Description = "Directory for batches the server has not acknowledged yet",
            DefaultValueFactory = _ => "/var/lib/dropboard-agent/spool",
        };
        var spoolMax = new Option<int>("--spool-max")
        {
            Description = "Batches kept on disk while the server is away (4 a second); past it they wait in memory (--backlog-kb)",
            DefaultValueFactory = _ => 20_000,
        };
        var backlogKb = new Option<int>("--backlog-kb")
        {
            Description = "Kilobytes of batches kept in memory while the spool cannot take them (full disk, write error, --spool-max); "
                          + "past it new batches are discarded, counted and reported",
            DefaultValueFactory = _ => 64 * 1024,
        };
        backlogKb.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 0) r.AddError("--backlog-kb cannot be negative");
        });
        var session = new Option<string?>("--session")
        {
            Description = "Record this host into a new dashboard session of this name, stopped when the agent stops",
        };
        var command = new Command("run", "Capture drops and counters and stream them to a DropBoard dashboard")
        {
            server, token, tokenFile, spool, spoolMax, backlogKb, session, WatchCommand.SourceOption, WatchCommand.NetNsOption, WatchCommand.ModeOption,
            WatchCommand.RingKbOption, WatchCommand.FlowsOption, WatchCommand.StacksOption,
            PrivilegeDrop.UserOption,
        };
        command.Validators.Add(WatchCommand.RefuseStacksWithoutBpf);
        command.Validators.Add(result =>
        {
            if ((result.GetResult(token) is null) == (result.GetResult(tokenFile) is null))
                result.AddError("give the credential with exactly one of --token-file PATH (preferred) and --token TOKEN");
        });
        command.SetAction(async (result, cancellationToken) =>
        {
            // Before capturing or connecting: a credential file others can read is refused outright.
            var credential = result.GetValue(tokenFile) is { } path ? await ReadOrSayWhyAsync(path) : result.GetValue(token);
            if (credential is null) return ExitCodes.CredentialFile;
            var outbox = new Outbox(new Spool(result.GetValue(spool)!, result.GetValue(spoolMax)), result.GetValue(backlogKb) * 1024L, Console.Error);
            return await RunAsync(
                new ServerList(result.GetValue(server)!), credential, result.GetValue(session), outbox,
                new AgentOptions
                {
                    Source = result.GetValue(WatchCommand.SourceOption),
                    NetNamespace = result.GetValue(WatchCommand.NetNsOption),
                    RingKb = result.GetValue(WatchCommand.RingKbOption),
                    FlowsPerSecond = result.GetValue(WatchCommand.FlowsOption),
                    Stacks = result.GetValue(WatchCommand.StacksOption),
                    NetDm = new() { Mode = result.GetValue(WatchCommand.ModeOption) },
                },
                result.GetValue(PrivilegeDrop.UserOption), result.GetValue(spool)!,
                cancellationToken);
        });
        return command;
    }

    /// <summary>The credential from its file, or prints the one-line reason and its fix and returns null.</summary>
    private static async Task<string?> ReadOrSayWhyAsync(string path)
    {
        try
        {
            return CredentialFile.Read(path);
        }
        catch (CredentialFileException e)
        {
            await Console.Error.WriteLineAsync($"dropboard-agent: cannot use the credential: {e.Message}. Fix: {e.Fix}");
            return null;
        }
    }

    private static async Task<int> RunAsync(ServerList servers, string token, string? sessionName, Outbox outbox, AgentOptions options, string? user, string spoolDirectory,
                                            CancellationToken cancellationToken)
    {
        if (await CaptureStart.StartOrSayWhyAsync(options) is not { } pipeline) return ExitCodes.CannotCapture;
        if (!await PrivilegeDrop.DropOrSayWhyAsync(pipeline, options, user, spoolDirectory))
        {
            await pipeline.DisposeAsync();
            return ExitCodes.PrivilegeDrop;
        }
        await Console.Error.WriteLineAsync($"dropboard-agent: {pipeline.SourceNote}; streaming to {servers}");

        var hub = new Uri(servers.Current, AgentHubContract.Path.TrimStart('/'));
        var connection = Connection(hub, token);
        var giveUpAt = DateTime.MaxValue;
        using var stop = cancellationToken.Register(() =>
        {
            giveUpAt = DateTime.UtcNow + StopGrace;
            _ = pipeline.DisposeAsync().AsTask();
        });

        // Capture never waits for the server: whatever the uplink is doing, batches go on into the outbox.
        var capture = Task.Run(async () =>
        {
            await foreach (var batch in pipeline.Batches.ReadAllAsync(CancellationToken.None))
                outbox.Add(pipeline.Hello, batch);
        }, CancellationToken.None);

        using var api = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        api.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        long? sessionId = null;
        var exitCode = 0;
        var backoff = Backoff.ForUplink();
        var stopping = () => capture.IsCompleted && cancellationToken.IsCancellationRequested;
        var pastGrace = () => stopping() && DateTime.UtcNow > giveUpAt;
        // A stop ends a wait begun before it, so the agent tries once more at once instead of sleeping out its backoff.
        var pause = (TimeSpan wait) => capture.IsCompleted ? Task.Delay(wait) : Task.WhenAny(Task.Delay(wait), capture);
        var refusing = false;
        var sender = new BatchSender(Console.Error);
        while (true)
        {
            if (outbox.Next() is not { } next)
            {
                if (capture.IsCompleted) break;
                await outbox.WaitAsync(TimeSpan.FromSeconds(1));
                continue;
            }
            try
            {
                if (connection.State == HubConnectionState.Disconnected)
                {
                    await connection.StartAsync(CancellationToken.None);
                    sender.Connected();
                    await Console.Error.WriteLineAsync($"dropboard-agent: connected to {hub}");
                    backoff.Reset();
                }
                if (sessionName is not null && sessionId is null)
                    sessionId = await StartSessionAsync(api, servers.Current, sessionName, pipeline.Hello.HostId);
                var ack = await sender.SendAsync(connection, next.Entry.Hello, next.Entry.Batch);
                switch (ack.Rejection)
                {
                    case BatchRejection.None:
                        outbox.Acknowledge(next);
                        servers.Answered();
                        backoff.Reset();
                        if (refusing) await Console.Error.WriteLineAsync("dropboard-agent: the dashboard takes batches again");
                        refusing = false;
                        break;
                    case BatchRejection.Retry or BatchRejection.TooFast:
                        // Not this batch's fault: it stays first in line, and capture goes on meanwhile.
                        if (pastGrace()) break;
                        var wait = backoff.Next();
                        if (!refusing)
                            await Console.Error.WriteLineAsync($"dropboard-agent: the dashboard cannot take batches now ({ack.Rejected}); "
                                                               + $"{outbox.Describe()}; sending again, first in {wait.TotalSeconds:0.#} s, until it can");
                        refusing = true;
                        await pause(wait);
                        break;
                    case BatchRejection.Forbidden:
                        // Every batch of this host would be refused alike: stop, and leave them spooled for the right credential.
                        await Console.Error.WriteLineAsync($"dropboard-agent: {servers.Current} refused batches from host {pipeline.Hello.HostName} ({ack.Rejected}); "
                                                           + $"use this host's own credential from 'agents add {pipeline.Hello.HostName}'");
                        exitCode = ExitCodes.Forbidden;
                        break;
                    default:
                        // The server will never take this batch: keep it aside for inspection, go on with the next.
                        await Console.Error.WriteLineAsync($"dropboard-agent: server rejected batch {next.Entry.Batch.Sequence}: {ack.Rejected}; {outbox.KeepAside(next)}");
                        break;
                }
                if (exitCode == ExitCodes.Forbidden || (ack.Rejection is BatchRejection.Retry or BatchRejection.TooFast && pastGrace())) break;
            }
            catch (HttpRequestException e) when (e.StatusCode == HttpStatusCode.Unauthorized)
            {
                await Console.Error.WriteLineAsync($"dropboard-agent: {servers.Current} refused the token (HTTP 401): check the credential (--token/--token-file) "
                                                   + "against the dashboard: DropBoard:AgentToken, or a per-host credential from 'agents add HOST'");
                exitCode = ExitCodes.TokenRefused;
                break;
            }
            catch (HttpRequestException e) when (e.StatusCode == HttpStatusCode.Forbidden)
            {
                // Only the hub's negotiation (while not connected) and the session API answer with an HTTP status.
                await Console.Error.WriteLineAsync(connection.State == HubConnectionState.Connected
                    ? $"dropboard-agent: {servers.Current} refused to create session '{sessionName}' (HTTP 403): this credential may not create sessions; "
                      + "start the session on the dashboard and run the agent without --session"
                    : $"dropboard-agent: {servers.Current} refused the agent connection to {hub} (HTTP 403): this credential may not stream batches; "
                      + $"use DropBoard:AgentToken or this host's credential from 'agents add {pipeline.Hello.HostName}'");
                exitCode = ExitCodes.Forbidden;
                break;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or InvalidOperationException or TimeoutException
                                          or OperationCanceledException or HubException or System.Net.WebSockets.WebSocketException)
            {
                if (stopping()) break; // stopping with the server away: the spool keeps the rest
                if (servers.Count > 1)
                {
                    // Replicas: the next one at once; a wait only once each has failed in a row.
                    var wholeRound = servers.Failed();
                    await connection.DisposeAsync();
                    hub = new Uri(servers.Current, AgentHubContract.Path.TrimStart('/'));
                    connection = Connection(hub, token);
                    if (!wholeRound)
                    {
                        await Console.Error.WriteLineAsync($"dropboard-agent: server unreachable ({e.Message}); {outbox.Describe()}, trying {servers.Current} now");
                        continue;
                    }
                }
                var wait = backoff.Next();
                await Console.Error.WriteLineAsync($"dropboard-agent: server unreachable ({e.Message}); {outbox.Describe()}, retrying {servers.Current} in {wait.TotalSeconds:0.#} s");
                await pause(wait);
            }
        }
        await connection.DisposeAsync();
        await pipeline.DisposeAsync();
        await capture;
        exitCode = await SayWhatIsUndeliveredAsync(outbox, exitCode);
        if (sessionId is { } id)
        {
            try
            {
                using var stopped = await api.PostAsync(new Uri(servers.Current, $"api/sessions/{id}/stop"), null, CancellationToken.None);
                stopped.EnsureSuccessStatusCode();
                await Console.Error.WriteLineAsync($"dropboard-agent: session {id} stopped");
            }
            catch (HttpRequestException e)
            {
                await Console.Error.WriteLineAsync($"dropboard-agent: could not stop session {id} ({e.Message}); stop it on the dashboard");
            }
        }
        return exitCode;
    }

    /// <summary>At exit: batches left in memory go to the spool if they can; says what the dashboard has not got, and the exit code that tells.</summary>
    private static async Task<int> SayWhatIsUndeliveredAsync(Outbox outbox, int exitCode)
    {
        outbox.Close();
        var unsent = outbox.Unsent;
        if (unsent > 0)
            await Console.Error.WriteLineAsync($"dropboard-agent: stopping with {unsent} batches not acknowledged; they wait in the spool for the next run");
        if (outbox.DiscardedBatches > 0)
            await Console.Error.WriteLineAsync($"dropboard-agent: stopping having discarded {outbox.DiscardSummary()} in all");
        if (exitCode != 0) return exitCode;
        return outbox.DiscardedBatches > 0 ? ExitCodes.Discarded : unsent > 0 ? ExitCodes.Unsent : ExitCodes.Ok;
    }

    private static HubConnection Connection(Uri hub, string token) => new HubConnectionBuilder()
        .WithUrl(hub, o => o.AccessTokenProvider = () => Task.FromResult<string?>(token))
        .AddJsonProtocol(o => o.PayloadSerializerOptions.TypeInfoResolverChain.Insert(0, ContractsJson.Default))
        .Build();

    private static async Task<long> StartSessionAsync(HttpClient api, Uri server, string name, string hostId)
    {
        using var response = await api.PostAsJsonAsync(new Uri(server, "api/sessions"), new SessionRequest(name, [hostId]), UplinkJson.Default.SessionRequest, CancellationToken.None);
        response.EnsureSuccessStatusCode();
        var id = (await response.Content.ReadFromJsonAsync(UplinkJson.Default.SessionCreated, CancellationToken.None))?.Id
                 ?? throw new HttpRequestException($"{server}api/sessions answered without a session id");
        await Console.Error.WriteLineAsync($"dropboard-agent: recording into session {id} '{name}'");
        return id;
    }
}
