using System.Runtime.InteropServices;

namespace DropBoard.Web.Sessions;

/// <summary>
/// Drops per (time step, function) of (second, function, count) rows that come in runs of one step, as each host's
/// rows do in the order of its table's key: a run is summed in one slot a function, and added to the sums once a
/// function when its step ends; any order of rows gives the same sums.
/// </summary>
internal sealed class StepSums
{
    private readonly int _stepSeconds;
    private readonly long[] _run;
    private readonly bool[] _inRun;
    private readonly List<int> _runFunctions = [];
    private readonly Dictionary<(long Step, int Function), long> _sums = [];
    private long _step, _runFrom = long.MaxValue, _runTo = long.MinValue;

    public StepSums(int functions, int stepSeconds)
    {
        _stepSeconds = stepSeconds;
        _run = new long[functions];
        _inRun = new bool[functions];
    }

    public void Add(long second, int function, long count)
    {
        if (second < _runFrom || second >= _runTo) Start(second);
        if (!_inRun[function])
        {
            _inRun[function] = true;
            _runFunctions.Add(function);
        }
        _run[function] += count;
    }

    /// <summary>Every step and function with rows, and their sum.</summary>
    public Dictionary<(long Step, int Function), long> Steps()
    {
        End();
        return _sums;
    }

    private void Start(long second)
    {
        End();
        _step = Rollup.Floor(second, _stepSeconds);
        _runFrom = _step * _stepSeconds;
        _runTo = _runFrom + _stepSeconds;
    }

    private void End()
    {
        foreach (var function in _runFunctions)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(_sums, (_step, function), out _) += _run[function];
            _run[function] = 0;
            _inRun[function] = false;
        }
        _runFunctions.Clear();
    }
}

/// <summary>
/// Each site id's function (its index), -1 for a site not in the view: ids as the database gives them, from 1 up
/// with few gaps, looked up in an array; a far larger id (a sequence that skipped) in a dictionary, so the array
/// stays bounded by the number of sites.
/// </summary>
internal sealed class SiteFunctions(int sites)
{
    private readonly long _denseBelow = 4L * sites + 1024;
    private int[] _dense = [];
    private readonly Dictionary<long, int> _sparse = [];

    public void Add(long site, int function)
    {
        if (site < 0 || site >= _denseBelow)
        {
            _sparse[site] = function;
            return;
        }
        if (site >= _dense.Length)
        {
            var grown = new int[Math.Min(_denseBelow, Math.Max(site + 1, 2L * _dense.Length))];
            Array.Fill(grown, -1);
            _dense.CopyTo(grown, 0);
            _dense = grown;
        }
        _dense[site] = function;
    }

    public int this[long site] => (ulong)site < (ulong)_dense.Length ? _dense[site] : _sparse.GetValueOrDefault(site, -1);
}
