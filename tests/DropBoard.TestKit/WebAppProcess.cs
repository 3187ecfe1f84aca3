using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace DropBoard.TestKit;

/// <summary>
/// The real dashboard, started as its own process from the build output next to the tests, on a free
/// loopback port. Logs are kept for failure messages.
/// </summary>
public sealed class WebAppProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _log = [];
    private bool _disposed;

    public Uri BaseAddress { get; }

    public int ProcessId => _process.Id;

    /// <summary>CPU time (user + system) the app has used so far.</summary>
    public TimeSpan CpuTime
    {
        get
        {
            _process.Refresh();
            return _process.TotalProcessorTime;
        }
    }
    public HttpClient Http { get; }

    private WebAppProcess(Process process, Uri baseAddress, NetNamespace? ns = null)
    {
        _process = process;
        BaseAddress = baseAddress;
        // In a namespace of its own, the app is reached from a socket made inside that namespace.
        var handler = new SocketsHttpHandler();
        if (ns is not null)
            handler.ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = ns.CreateSocket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            };
        Http = new HttpClient(handler) { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Add(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Log { get { lock (_log) return string.Join('\n', _log); } }

    /// <param name="settings">Configuration overrides, as <c>DropBoard:EmbeddedAgent=false</c>.</param>
    public static Task<WebAppProcess> StartAsync(params string[] settings) => StartAsync(FreePort(), settings);

    /// <summary>On a given port, so a test can kill the app and bring it back where its agents look for it.</summary>
    /// <remarks>Each app gets its own new database file unless <c>DropBoard:Database=...</c> is among the settings.</remarks>
    public static Task<WebAppProcess> StartAsync(int port, params string[] settings) => StartAsync(port, new Dictionary<string, string>(), settings);

    /// <param name="environment">Variables set for the app only, as <c>HOME</c> to give it a machine of its own.</param>
    public static async Task<WebAppProcess> StartAsync(int port, IReadOnlyDictionary<string, string> environment, params string[] settings)
    {
        var psi = StartInfo(port, settings);
        foreach (var (name, value) in environment) psi.Environment[name] = value;
        var app = new WebAppProcess(Process.Start(psi)!, new Uri($"http://127.0.0.1:{port}/"));
        await app.WaitUntilServingAsync();
        return app;
    }

    /// <summary>
    /// Inside a network namespace (<c>nsenter --net</c>, which leaves the mounts alone), listening on
    /// <paramref name="address"/>; <see cref="Http"/> reaches it from inside that namespace.
    /// </summary>
    public static async Task<WebAppProcess> StartInAsync(NetNamespace ns, string address, int port, params string[] settings)
    {
        var psi = StartInfo(port, settings, address);
        psi.ArgumentList.Insert(0, psi.FileName);
        psi.ArgumentList.Insert(0, $"--net=/run/netns/{ns.Name}");
        psi.FileName = "nsenter";
        var app = new WebAppProcess(Process.Start(psi)!, new Uri($"http://{address}:{port}/"), ns);
        await app.WaitUntilServingAsync();
        return app;
    }

    /// <summary>Starts the app expecting it to refuse to start; returns its exit code and everything it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunUntilExitAsync(params string[] settings)
    {
        using var process = Process.Start(StartInfo(FreePort(), settings))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"the web app was expected to refuse to start, but it ran for 60 s:\n{await stdout}{await stderr}");
        }
        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>
    /// Runs the dashboard program's admin commands (<c>users add NAME --role admin</c>, <c>tokens add</c>, <c>agents add</c>)
    /// on <paramref name="database"/>; the secret they print is the last line of <c>Stdout</c>.
    /// </summary>
    public static (int ExitCode, string Stdout, string Stderr) Admin(string database, params string[] args)
    {
        string[] all = [Path.Combine(AppContext.BaseDirectory, "DropBoard.Web.dll"), .. args, "--database", database];
        return Commands.TryRun("dotnet", all);
    }

    /// <summary>A secret printed by <see cref="Admin"/>, or a failure that says what the command printed.</summary>
    public static string NewSecret(string database, params string[] args)
    {
        var (code, stdout, stderr) = Admin(database, args);
        if (code != 0) throw new InvalidOperationException($"'{string.Join(' ', args)}' exited with {code}: {stdout}{stderr}");
        return stdout.TrimEnd().Split('\n')[^1];
    }

    /// <summary>A path for a new database file, to prepare users and tokens before the app starts on it.</summary>
    public static string NewDatabasePath() => Path.Combine(Path.GetTempPath(), $"dropboard-test-{Guid.NewGuid():n}.db");

    private static ProcessStartInfo StartInfo(int port, string[] settings, string address = "127.0.0.1")
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "DropBoard.Web.dll");
        var psi = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--urls");
        psi.ArgumentList.Add($"http://{address}:{port}");
        foreach (var s in settings) psi.ArgumentList.Add($"--{s}");
        if (!settings.Any(s => s.StartsWith("DropBoard:Database=", StringComparison.Ordinal)))
            psi.ArgumentList.Add($"--DropBoard:Database={NewDatabasePath()}");
        psi.Environment["ASPNETCORE_ENVIRONMENT"] = "Development";
        return psi;
    }

    private async Task WaitUntilServingAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited) throw new InvalidOperationException($"the web app exited with {_process.ExitCode}:\n{Log}");
            try
            {
                // Serving once it answers at all: behind sign-in the answer is a 401.
                using var response = await Http.GetAsync("api/hosts");
                if (response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.Unauthorized) return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(200);
        }
        throw new TimeoutException($"the web app did not answer within 60 s:\n{Log}");
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Kills the app hard, as a crash or an OOM kill would. Safe to call twice.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed) return;
        _disposed = true;
        Http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
    }
}
