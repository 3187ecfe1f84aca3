using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace DropBoard.TestKit;

/// <summary>
/// A throw-away <c>redis-server</c> (Debian's package) on a free loopback port, with nothing saved to disk; killed with
/// the test. <see cref="Configuration"/> is what <c>DropBoard:Redis</c> takes.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly DirectoryInfo _directory;
    private readonly List<string> _log = [];

    public int Port { get; }

    public int ProcessId => _process.Id;

    public string Configuration => $"127.0.0.1:{Port}";

    public string Log { get { lock (_log) return string.Join('\n', _log); } }

    private RedisServer(Process process, DirectoryInfo directory, int port)
    {
        (_process, _directory, Port) = (process, directory, port);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Add(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Add(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <param name="port">Where dashboards already look for it; a free one when not given.</param>
    public static async Task<RedisServer> StartAsync(int? port = null)
    {
        Privileged.RequireCommand("redis-server", "redis-server");
        port ??= WebAppProcess.FreePort();
        var directory = Directory.CreateTempSubdirectory("dropboard-redis-");
        var psi = new ProcessStartInfo("redis-server") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--port", $"{port}", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory.FullName, "--daemonize", "no" })
            psi.ArgumentList.Add(a);
        var server = new RedisServer(Process.Start(psi)!, directory, port.Value);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await server.AnswersPingAsync())
        {
            if (server._process.HasExited) throw new InvalidOperationException($"redis-server exited with {server._process.ExitCode}:\n{server.Log}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"redis-server did not answer PING within 20 s:\n{server.Log}");
            await Task.Delay(100);
        }
        return server;
    }

    private async Task<bool> AnswersPingAsync()
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync("127.0.0.1", Port);
            var stream = client.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var answer = new byte[16];
            var read = await stream.ReadAsync(answer);
            return Encoding.ASCII.GetString(answer, 0, read).StartsWith("+PONG", StringComparison.Ordinal);
        }
        catch (SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        _directory.Delete(recursive: true);
    }
}
