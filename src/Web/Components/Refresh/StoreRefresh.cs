using DropBoard.Web.Live;
using DropBoard.Web.Sessions;

namespace DropBoard.Web.Components.Refresh;

/// <summary>
/// Turns a store's change notices (the live store's batches, the session store's writes, the writer's trouble)
/// into at most one refresh per <c>every</c>: the first change after a quiet spell refreshes at once (drops show
/// as soon as they arrive), a storm of changes costs the browser one render per interval. A refresh that costs
/// more than a fifth of the interval (a big session still recording) waits four times as long as it took before
/// the next, so one open page holds at most a fifth of a core however large what it shows.
/// </summary>
public sealed class StoreRefresh : IDisposable
{
    private readonly Action _unsubscribe;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _changed = new(0, 1);

    /// <summary>After a refresh, at least this many times as long as it took passes before the next.</summary>
    internal const int CostlyPause = 4;

    /// <param name="relevant">Which hosts' batches this page shows (by host id).</param>
    public StoreRefresh(LiveStore store, Func<string, bool> relevant, Func<Task> refresh, TimeSpan every)
    {
        Action<string> changed = hostId =>
        {
            if (relevant(hostId)) MarkChanged();
        };
        store.Changed += changed;
        _unsubscribe = () => store.Changed -= changed;
        _ = Loop(refresh, every, _stop.Token);
    }

    /// <param name="relevant">Which of the store's changes this page shows.</param>
    /// <param name="writer">When given, its trouble beginning and ending refreshes too (a page that says it).</param>
    public StoreRefresh(SessionStore store, Func<SessionChange, bool> relevant, Func<Task> refresh, TimeSpan every, SessionWriter? writer = null)
    {
        Action<SessionChange> changed = change =>
        {
            if (relevant(change)) MarkChanged();
        };
        store.Changed += changed;
        if (writer is not null) writer.TroubleChanged += MarkChanged;
        _unsubscribe = () =>
        {
            store.Changed -= changed;
            if (writer is not null) writer.TroubleChanged -= MarkChanged;
        };
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
                var took = DateTime.UtcNow - started;
                var rest = TimeSpan.FromTicks(Math.Max((every - took).Ticks, took.Ticks * CostlyPause));
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
        _unsubscribe();
        _stop.Cancel();
        _stop.Dispose();
    }
}
