using System.Diagnostics;

namespace DropBoard.TestKit;

/// <summary>
/// A throw-away PostgreSQL cluster (Debian's <c>postgresql</c> package): <c>initdb</c> into a temporary directory, the
/// server on a free loopback port, deleted with the test. Root may not run PostgreSQL, so as root both run as the
/// <c>postgres</c> user. <see cref="NewDatabase"/> gives each test an empty database of its own.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly DirectoryInfo _directory;
    private readonly string _bin;
    private readonly List<string> _log = [];
    private int _databases;

    public int Port { get; }

    /// <summary>The postmaster: its children are the server's backends, so their CPU time is the server's.</summary>
    public int ProcessId => _process.Id;

    public string Log { get { lock (_log) return string.Join('\n', _log); } }

    private PostgresServer(Process process, DirectoryInfo directory, string bin, int port)
    {
        (_process, _directory, _bin, Port) = (process, directory, bin, port);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Add(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The newest PostgreSQL installed, or null.</summary>
    public static string? Binaries() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin"))
                .Where(d => File.Exists(Path.Combine(d, "postgres")) && File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0).FirstOrDefault()
            : null;

    /// <param name="durable">
    /// False (tests): no fsync, no full pages, commits not waited for. True (benchmarks): PostgreSQL's defaults, but
    /// commits not waited for as with DropBoard's SQLite (WAL, <c>synchronous = NORMAL</c>): a power cut may lose the
    /// last transactions, never the database.
    /// </param>
    public static async Task<PostgresServer> StartAsync(bool durable = false)
    {
        var bin = Binaries();
        Privileged.Require(bin is not null, "PostgreSQL is not installed (apt-get install postgresql)");
        var directory = Directory.CreateTempSubdirectory("dropboard-postgres-");
        if (Privileged.IsRoot) Commands.Run("chown", "postgres:postgres", directory.FullName);
        var data = Path.Combine(directory.FullName, "data");
        var initdb = AsServerUser(Path.Combine(bin!, "initdb"));
        Commands.Run(initdb[0], [.. initdb[1..], "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"]);
        var port = WebAppProcess.FreePort();
        var command = AsServerUser(Path.Combine(bin!, "postgres"));
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1)) psi.ArgumentList.Add(a);
        string[] settings = ["-D", data, "-p", $"{port}", "-k", directory.FullName, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300",
            "-c", "synchronous_commit=off", .. durable ? Array.Empty<string>() : ["-c", "fsync=off", "-c", "full_page_writes=off"]];
        foreach (var a in settings) psi.ArgumentList.Add(a);
        var server = new PostgresServer(Process.Start(psi)!, directory, bin!, port);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Commands.TryRun(Path.Combine(bin!, "pg_isready"), "-h", "127.0.0.1", "-p", $"{port}", "-U", "postgres").ExitCode != 0)
        {
            if (server._process.HasExited) throw new InvalidOperationException($"postgres exited with {server._process.ExitCode}:\n{server.Log}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"postgres did not accept connections within 30 s:\n{server.Log}");
            await Task.Delay(100);
        }
        return server;
    }

    private static string[] AsServerUser(string program) =>
        Privileged.IsRoot ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", program] : [program];

    /// <summary>A new empty database; its Npgsql connection string, as <c>DropBoard:Database</c> takes it.</summary>
    public string NewDatabase()
    {
        var name = $"dropboard_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():n}"[..40];
        Commands.Run(Path.Combine(_bin, "createdb"), "-h", "127.0.0.1", "-p", $"{Port}", "-U", "postgres", name);
        return ConnectionString(name);
    }

    public string ConnectionString(string database) => $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database}";

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            // SIGINT: PostgreSQL's fast shutdown, which ends its own children too.
            Tmds.Linux.LibC.kill(_process.Id, Tmds.Linux.LibC.SIGINT);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
        _directory.Delete(recursive: true);
    }
}
