using System.Net;
using System.Net.Sockets;
using System.Text;

namespace DropBoard.Web.Tests.Live;

/// <summary>
/// A TCP relay between an agent and the dashboard that can lose one acknowledgement: when the dashboard's answer
/// taking batch N comes through, that answer and everything after it on the connection go nowhere, as when a crash
/// or a network cut falls between the dashboard recording a batch and the agent hearing so. The hub answers in
/// JSON inside unmasked WebSocket frames, so the answer is found by its text. When either side closes, so does the
/// other, as a dead dashboard's connections do.
/// </summary>
public sealed class AckLosingRelay : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _dashboardPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<TcpClient> _open = [];
    private readonly Task _accepting;
    private byte[] _answer = [];
    private int _armed, _answers;

    public AckLosingRelay(int dashboardPort)
    {
        _dashboardPort = dashboardPort;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Completes when the answer to the batch of <see cref="LoseAckOf"/> was held back.</summary>
    public TaskCompletionSource Lost { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Answers taking that batch that came from a dashboard, the lost one included.</summary>
    public int Answers => Volatile.Read(ref _answers);

    /// <summary>
    /// Loses the first answer that takes batch <paramref name="sequence"/> (<c>BatchAck</c> with no rejection: a "too
    /// fast" answer does not count, the batch was not recorded); counts every such answer.
    /// </summary>
    public void LoseAckOf(long sequence)
    {
        _answer = Encoding.UTF8.GetBytes($"\"sequence\":{sequence},\"duplicate\":false,\"rejection\":\"None\"");
        Volatile.Write(ref _armed, 1);
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient agent;
            try
            {
                agent = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            _ = RelayAsync(agent);
        }
    }

    private async Task RelayAsync(TcpClient agent)
    {
        using var dashboard = new TcpClient();
        lock (_open) _open.AddRange([agent, dashboard]);
        try
        {
            await dashboard.ConnectAsync(IPAddress.Loopback, _dashboardPort, _stop.Token);
            await Task.WhenAny(
                agent.GetStream().CopyToAsync(dashboard.GetStream(), _stop.Token),
                AnswersAsync(dashboard.GetStream(), agent.GetStream()));
        }
        catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // The dashboard is down or went away: the agent sees its connection close.
        }
        finally
        {
            agent.Dispose();
        }
    }

    private async Task AnswersAsync(NetworkStream from, NetworkStream to)
    {
        var buffer = new byte[64 * 1024];
        byte[] tail = [];
        var muted = false;
        int n;
        while ((n = await from.ReadAsync(buffer, _stop.Token)) > 0)
        {
            var pattern = _answer;
            if (pattern.Length > 0)
            {
                // The tail of the last read keeps an answer split across two reads findable, and never found twice.
                byte[] window = [.. tail, .. buffer.AsSpan(0, n)];
                var found = Occurrences(window, pattern);
                tail = window[Math.Max(0, window.Length - pattern.Length + 1)..];
                Interlocked.Add(ref _answers, found);
                if (found > 0 && Interlocked.Exchange(ref _armed, 0) == 1)
                {
                    muted = true;
                    Lost.TrySetResult();
                }
            }
            if (!muted) await to.WriteAsync(buffer.AsMemory(0, n), _stop.Token);
        }
    }

    private static int Occurrences(ReadOnlySpan<byte> text, ReadOnlySpan<byte> pattern)
    {
        var count = 0;
        for (var at = text.IndexOf(pattern); at >= 0; at = text.IndexOf(pattern))
        {
            count++;
            text = text[(at + pattern.Length)..];
        }
        return count;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_open) _open.ForEach(c => c.Dispose());
        await _accepting;
        _stop.Dispose();
    }
}
