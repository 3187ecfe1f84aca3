using DropBoard.Web.Components.Refresh;
using DropBoard.Web.Live;

namespace DropBoard.Web.Tests.Pages;

public sealed class StoreRefreshTests
{
    [Fact]
    public async Task A_costly_refresh_waits_four_times_as_long_as_it_took_and_a_cheap_one_keeps_its_interval()
    {
        var (costly, cheap) = (await RefreshesDuring(TimeSpan.FromMilliseconds(100)), await RefreshesDuring(TimeSpan.Zero));

        // 1.5 s of changes every 5 ms, a refresh at most every 50 ms: a 100 ms refresh is followed by 400 ms of rest
        // (about 3 refreshes; back to back it would be about 15); a cheap one refreshes every 50 ms (about 30).
        Assert.InRange(costly, 2, 5);
        Assert.True(cheap >= 10, $"a cheap refresh ran {cheap} times in 1.5 s, not every 50 ms");
    }

    private static async Task<int> RefreshesDuring(TimeSpan cost)
    {
        var store = new LiveStore(TimeProvider.System);
        var refreshes = 0;
        using (new StoreRefresh(store, host => host == "h1", async () =>
               {
                   Interlocked.Increment(ref refreshes);
                   if (cost > TimeSpan.Zero) await Task.Delay(cost);
               }, TimeSpan.FromMilliseconds(50)))
        {
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(1.5);
            while (DateTime.UtcNow < until)
            {
                store.Disconnected("h1");
                await Task.Delay(5);
            }
        }
        return refreshes;
    }
}
