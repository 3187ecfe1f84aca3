using System.Diagnostics;
using System.Text.Json;

namespace DropBoard.TestKit;

/// <summary>The real dropboard-agent, started as its own process from the build output next to the tests.</summary>
public sealed class AgentProcess : IDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];

    private AgentProcess(Process process)
    {
        _process = process;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.Add(e.Data); };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (_stderr) _stderr.Add(e.Data);
            // "watching" (watch) and "streaming" (run) are printed once the rings are enabled.
            if (e.Data.Contains("; watching", StringComparison.Ordinal) || e.Data.Contains("; streaming", StringComparison.Ordinal))
                _ready.TrySetResult();
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public static AgentProcess Start(params string[] args) => StartIn(null, args);

    /// <summary>A published agent (<see cref="PublishedAgent"/>): the executable itself, no dotnet host.</summary>
    public static AgentProcess StartExecutable(string executable, params string[] args) => StartCommand(null, [executable, .. args]);

    /// <summary>
    /// Inside a network namespace (<c>nsenter --net</c>, which leaves the mounts alone): its connections leave from
    /// there, and it reads that namespace's counters.
    /// </summary>
    public static AgentProcess StartIn(NetNamespace? ns, params string[] args) =>
        StartCommand(ns, ["dotnet", Path.Combine(AppContext.BaseDirectory, "dropboard-agent.dll"), .. args]);

    private static AgentProcess StartCommand(NetNamespace? ns, string[] command)
    {
        // Through env, so Ctrl-C (SIGINT) reaches the agent as it does from a terminal even when the test run
        // itself was started in the background, where SIGINT is ignored and the ignoring is inherited.
        var psi = new ProcessStartInfo("/usr/bin/env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        if (ns is not null)
        {
            psi.FileName = "nsenter";
            psi.ArgumentList.Add($"--net=/run/netns/{ns.Name}");
            psi.ArgumentList.Add("/usr/bin/env");
        }
        psi.ArgumentList.Add("--default-signal=INT");
        foreach (var a in command) psi.ArgumentList.Add(a);
        return new AgentProcess(Process.Start(psi)!);
    }

    /// <summary>
    /// Waits until the agent says it is capturing (its rings are enabled). The ceiling is generous, a loaded 2-core CI
    /// machine can stretch starting .NET and reading kallsyms a long way; an agent that exits ends the wait at once.
    /// </summary>
    public async Task WaitUntilCapturingAsync(TimeSpan? ceiling = null)
    {
        var limit = ceiling ?? TimeSpan.FromSeconds(120);
        var done = await Task.WhenAny(_ready.Task, _process.WaitForExitAsync(), Task.Delay(limit));
        if (done == _ready.Task) return;
        throw new InvalidOperationException(_process.HasExited
            ? $"the agent exited ({_process.ExitCode}) before it started capturing: {Stderr}"
            : $"the agent did not start capturing within {limit.TotalSeconds} s: {Stderr}");
    }

    /// <summary>Waits for the agent to exit (it drains what the kernel still holds first); kills it after the ceiling.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan? ceiling = null)
    {
        var limit = ceiling ?? TimeSpan.FromSeconds(120);
        using var timeout = new CancellationTokenSource(limit);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the agent did not exit within {limit.TotalSeconds} s: {Stderr}");
        }
        _process.WaitForExit(); // flushes the redirected streams
        return _process.ExitCode;
    }

    /// <summary>Polls <paramref name="condition"/> for up to <paramref name="seconds"/> (a loaded CI machine); fails naming what never happened, with what the agent said.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, string what, int seconds = 60)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"no {what} within {seconds} s; the agent said:\n{Stderr}");
            await Task.Delay(100);
        }
    }

    /// <summary>Asks the agent to stop, as Ctrl-C or systemd would (SIGTERM).</summary>
    public void Terminate() => Tmds.Linux.LibC.kill(_process.Id, Tmds.Linux.LibC.SIGTERM);

    /// <summary>Kills the agent outright (SIGKILL), as a crash, the OOM killer or a power cut would.</summary>
    public void Kill()
    {
        Tmds.Linux.LibC.kill(_process.Id, Tmds.Linux.LibC.SIGKILL);
        _process.WaitForExit();
    }

    /// <summary>Ctrl-C (SIGINT).</summary>
    public void Interrupt() => Tmds.Linux.LibC.kill(_process.Id, Tmds.Linux.LibC.SIGINT);

    /// <summary>The agent's process id (env execs dotnet in place, so it is the agent's own).</summary>
    public int Id => _process.Id;

    public string Stderr { get { lock (_stderr) return string.Join('\n', _stderr); } }

    /// <summary>How many times the agent has said <paramref name="what"/> on stderr.</summary>
    public int TimesSaid(string what)
    {
        var text = Stderr;
        return (text.Length - text.Replace(what, "", StringComparison.Ordinal).Length) / what.Length;
    }

    public IReadOnlyList<string> StdoutLines { get { lock (_stdout) return [.. _stdout]; } }

    /// <summary>The final <c>{"type":"summary",...}</c> line of a --json run.</summary>
    public JsonElement Summary() =>
        JsonDocument.Parse(StdoutLines.Last(l => l.Contains("\"type\":\"summary\"", StringComparison.Ordinal))).RootElement;

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
