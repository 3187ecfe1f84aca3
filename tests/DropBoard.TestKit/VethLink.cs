namespace DropBoard.TestKit;

/// <summary>
/// A veth pair between two namespaces, <see cref="LeftAddress"/> on one end and <see cref="RightAddress"/> on the other:
/// a cable between two hosts that a test can pull out (<see cref="Unplug"/>) and put back.
/// </summary>
public sealed class VethLink : IDisposable
{
    private readonly NetNamespace _left;
    private readonly string _leftEnd;

    public string LeftAddress => "10.99.0.1";
    public string RightAddress => "10.99.0.2";

    /// <summary>The left end's device name (in the left namespace), for a qdisc on the way out.</summary>
    public string LeftEnd => _leftEnd;

    private VethLink(NetNamespace left, string leftEnd)
    {
        _left = left;
        _leftEnd = leftEnd;
    }

    public static VethLink Create(NetNamespace left, NetNamespace right)
    {
        var id = Guid.NewGuid().ToString("n")[..8]; // interface names are 15 bytes at most
        string leftEnd = $"vl{id}", rightEnd = $"vr{id}";
        Commands.Run("ip", "link", "add", leftEnd, "netns", left.Name, "type", "veth", "peer", "name", rightEnd, "netns", right.Name);
        var link = new VethLink(left, leftEnd);
        left.Exec("ip", "addr", "add", $"{link.LeftAddress}/30", "dev", leftEnd);
        right.Exec("ip", "addr", "add", $"{link.RightAddress}/30", "dev", rightEnd);
        left.Exec("ip", "link", "set", leftEnd, "up");
        right.Exec("ip", "link", "set", rightEnd, "up");
        return link;
    }

    /// <summary><c>ip link set down</c> on the left end: nothing passes until <see cref="PlugIn"/>.</summary>
    public void Unplug() => _left.Exec("ip", "link", "set", _leftEnd, "down");

    public void PlugIn() => _left.Exec("ip", "link", "set", _leftEnd, "up");

    /// <summary>Deleting one end deletes the pair; gone already with its namespace.</summary>
    public void Dispose() => Commands.TryRun("ip", "netns", "exec", _left.Name, "ip", "link", "del", _leftEnd);
}
