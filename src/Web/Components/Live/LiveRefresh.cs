using DropBoard.Web.Live;

namespace DropBoard.Web.Components.Live;

/// <summary>
/// Turns the live store's change notices into at most one refresh per <c>every</c>, so a drop storm that
/// brings hundreds of batches a second costs the browser two renders a second.
/// </summary>
public sealed class LiveRefresh : IDisposable
{
    private readonly LiveStore _store;
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _dirty = true;

    public LiveRefresh(LiveStore store, Func<Task> refresh, TimeSpan every)
    {
        _store = store;
        store.Changed += MarkDirty;
        _ = Loop(refresh, every, _stop.Token);
    }

    public bool Paused { get; set; }

    private void MarkDirty() => _dirty = true;

    private async Task Loop(Func<Task> refresh, TimeSpan every, CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(every);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                if (!_dirty || Paused) continue;
                _dirty = false;
                await refresh();
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // The page went away.
        }
    }

    public void Dispose()
    {
        _store.Changed -= MarkDirty;
        _stop.Cancel();
        _stop.Dispose();
    }
}
