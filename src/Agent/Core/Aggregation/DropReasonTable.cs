namespace DropBoard.Agent.Aggregation;

/// <summary>
/// Drop-reason names interned to small ids, so the hot path counts ints and the wire carries names
/// (reason numbers differ between kernels; names do not).
/// </summary>
public sealed class DropReasonTable
{
    /// <summary>No reason known (kernels before 5.17, NET_DM summary mode).</summary>
    public const int None = 0;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, int> _ids = new(StringComparer.Ordinal);
    private string?[] _names = [null];

    public int Intern(string? name)
    {
        if (string.IsNullOrEmpty(name)) return None;
        lock (_gate)
        {
            if (_ids.TryGetValue(name, out var id)) return id;
            id = _names.Length;
            _names = [.. _names, name];
            _ids[name] = id;
            return id;
        }
    }

    public string? NameOf(int id)
    {
        var names = Volatile.Read(ref _names);
        return (uint)id < (uint)names.Length ? names[id] : null;
    }
}
