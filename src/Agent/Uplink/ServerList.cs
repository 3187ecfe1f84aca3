namespace DropBoard.Agent.Uplink;

/// <summary>
/// The dashboards an agent may send to (<c>--server</c>, several for replicas behind no load balancer), in the order
/// given. The agent stays with one while it answers; when the connection fails it moves to the next at once, and waits
/// (its backoff) only once every one of them has failed in a row. Pure: the caller connects.
/// </summary>
public sealed class ServerList
{
    private readonly IReadOnlyList<Uri> _servers;
    private int _current;
    private int _failedInARow;

    public ServerList(IReadOnlyList<Uri> servers)
    {
        if (servers.Count == 0) throw new ArgumentException("at least one server", nameof(servers));
        _servers = servers;
    }

    public Uri Current => _servers[_current];

    public int Count => _servers.Count;

    /// <summary>The current one could not be reached or dropped the connection: the next one becomes current.</summary>
    /// <returns>True when every server has failed since the last success: wait before trying again.</returns>
    public bool Failed()
    {
        _current = (_current + 1) % _servers.Count;
        return ++_failedInARow % _servers.Count == 0;
    }

    /// <summary>The current one took a batch.</summary>
    public void Answered() => _failedInARow = 0;

    public override string ToString() => string.Join(", ", _servers);
}
