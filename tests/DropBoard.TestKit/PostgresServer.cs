using System.Diagnostics;

namespace DropBoard.TestKit;

/// <summary>
/// A throw-away PostgreSQL cluster (Debian's <c>postgresql</c> package): <c>initdb</c> into a temporary directory, the
/// server on a free loopback port, deleted with the test. Root may not run PostgreSQL, so as root both run as the
/// <c>postgres</c> user. <see cref="NewDatabase"/> gives each test an empty database of its own.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private Process _process;
    private readonly DirectoryInfo _directory;
    private readonly string _bin;
    private readonly string[] _settings;
    private readonly List<string> _log = [];
    private int _databases;

    public int Port { get; }

    /// <summary>The postmaster: its children are the server's backends, so their CPU time is the server's.</summary>
    public int ProcessId => _process.Id;

    public string Log { get { lock (_log) return string.Join('\n', _log); } }

    private PostgresServer(DirectoryInfo directory, string bin, int port, string[] settings)
    {
        (_directory, _bin, Port, _settings) = (directory, bin, port, settings);
        _process = Launch();
    }

    private Process Launch()
    {
        var command = AsServerUser(Path.Combine(_bin, "postgres"));
        var psi = new ProcessStartInfo(command[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in command.Skip(1).Concat(_settings)) psi.ArgumentList.Add(a);
        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Add(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private async Task WaitUntilReadyAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Commands.TryRun(Path.Combine(_bin, "pg_isready"), "-h", "127.0.0.1", "-p", $"{Port}", "-U", "postgres").ExitCode != 0)
        {
            if (_process.HasExited) throw new InvalidOperationException($"postgres exited with {_process.ExitCode}:\n{Log}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"postgres did not accept connections within 30 s:\n{Log}");
            await Task.Delay(100);
        }
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
        string[] settings = ["-D", data, "-p", $"{port}", "-k", directory.FullName, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300",
            "-c", "synchronous_commit=off", .. durable ? Array.Empty<string>() : ["-c", "fsync=off", "-c", "full_page_writes=off"]];
        var server = new PostgresServer(directory, bin!, port, settings);
        await server.WaitUntilReadyAsync();
        return server;
    }

    /// <summary>Fast shutdown (SIGINT): open transactions are rolled back, every connection is closed.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
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

    /// <summary>After <see cref="StopAsync"/>: the same cluster on the same port again.</summary>
    public async Task StartAgainAsync()
    {
        if (!_process.HasExited) throw new InvalidOperationException("the server is running");
        _process.Dispose();
        _process = Launch();
        await WaitUntilReadyAsync();
    }

    private static string[] AsServerUser(string program) =>
        Privileged.IsRoot ? ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", program] : [program];

    /// <summary>A new empty database; its Npgsql connection string, as <c>DropBoard:Database</c> takes it.</summary>
    /// <param name="tablespace">Where its tables are kept, when not in the cluster's directory.</param>
    public string NewDatabase(string? tablespace = null)
    {
        var name = $"dropboard_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():n}"[..40];
        Commands.Run(Path.Combine(_bin, "createdb"), ["-h", "127.0.0.1", "-p", $"{Port}", "-U", "postgres", .. tablespace is null ? Array.Empty<string>() : ["-D", tablespace], name]);
        return ConnectionString(name);
    }

    /// <summary>A tablespace in <paramref name="directory"/> (made, and given to the server's user); its name.</summary>
    public string NewTablespace(string directory)
    {
        Directory.CreateDirectory(directory);
        if (Privileged.IsRoot) Commands.Run("chown", "postgres:postgres", directory);
        var name = $"space_{Guid.NewGuid():n}";
        Commands.Run(Path.Combine(_bin, "psql"), "-h", "127.0.0.1", "-p", $"{Port}", "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
            "-c", $"CREATE TABLESPACE {name} LOCATION '{directory}'");
        return name;
    }

    public string ConnectionString(string database) => $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database}";

    public async ValueTask DisposeAsync()
    {
        // SIGINT: PostgreSQL's fast shutdown, which ends its own children too.
        await StopAsync();
        _process.Dispose();
        _directory.Delete(recursive: true);
    }
}
