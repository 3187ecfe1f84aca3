using DropBoard.Web.Live;

namespace DropBoard.Web.Components.Live;

/// <summary>
/// Turns the live store's change notices into at most one refresh per <c>every</c>: the first change after a
/// quiet spell refreshes at once (drops show as soon as they arrive), a storm of changes costs the browser
/// one render per interval.
/// </summary>
public sealed class LiveRefresh : IDisposable
{
    private readonly LiveStore _store;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _changed = new(0, 1);

    public LiveRefresh(LiveStore store, Func<Task> refresh, TimeSpan every)
    {
        _store = store;
        store.Changed += MarkChanged;
        _ = Loop(refresh, every, _stop.Token);
    }

    public bool Paused { get; set; }

    private void MarkChanged()
    {
        if (_changed.CurrentCount == 0)
        {
            try
            {
                _changed.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another batch signalled first: one refresh covers both.
            }
        }
    }

    private async Task Loop(Func<Task> refresh, TimeSpan every, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await _changed.WaitAsync(cancellationToken);
                if (Paused) continue;
                var started = DateTime.UtcNow;
                await refresh();
                var rest = every - (DateTime.UtcNow - started);
                if (rest > TimeSpan.Zero) await Task.Delay(rest, cancellationToken);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
        {
            // The page went away.
        }
    }

    public void Dispose()
    {
        _store.Changed -= MarkChanged;
        _stop.Cancel();
        _stop.Dispose();
    }
}
