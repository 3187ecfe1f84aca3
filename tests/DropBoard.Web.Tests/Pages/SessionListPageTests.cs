using Bunit;
using DropBoard.Web.Access;
using DropBoard.Web.Components.Pages.Sessions;
using DropBoard.Web.Sessions;
using Microsoft.Extensions.DependencyInjection;

namespace DropBoard.Web.Tests.Pages;

/// <summary>The sessions list's own logic: picking two to compare, search and sort, and following the store.</summary>
public sealed class SessionListPageTests : PageTest
{
    [Fact]
    public void Two_ticked_sessions_compare_in_the_order_ticked_and_one_deleted_meanwhile_is_no_longer_ticked()
    {
        var before = Imported("before", 10);
        var after = Imported("after", 20);
        var third = Imported("third", 30);
        var page = Render<SessionList>();
        var compare = page.Find("p.pick button");
        Assert.True(compare.HasAttribute("disabled"));

        Tick(page, after);
        Assert.Contains("(1 ticked)", page.Find("p.pick").TextContent);
        Tick(page, before);
        Assert.False(page.Find("p.pick button").HasAttribute("disabled"));
        page.Find("p.pick button").Click();
        Assert.Equal($"compare?a={after}&b={before}", Address);

        Tick(page, after);
        Tick(page, third);
        Assert.Equal(SessionDeletion.Deleted, Store.Delete(third));
        page.WaitForAssertion(() =>
        {
            Assert.Empty(page.FindAll($"tr[data-session='{third}']"));
            Assert.Contains("(1 ticked)", page.Find("p.pick").TextContent);
        });
        Assert.True(page.Find("p.pick button").HasAttribute("disabled"));
    }

    [Fact]
    public void Search_narrows_and_sort_orders_the_rows()
    {
        var small = Imported("rmem small", 5, startedMs: 1_700_000_000_000);
        var big = Imported("rmem big", 500, startedMs: 1_700_000_100_000);
        var other = Imported("baseline", 50, startedMs: 1_700_000_200_000);
        var page = Render<SessionList>();
        Assert.Equal([other, big, small], Rows(page));

        page.Find("input[placeholder='name or notes']").Input("RMEM");
        Assert.Equal([big, small], Rows(page));
        page.Find("section.controls select").Change("drops");
        Assert.Equal([big, small], Rows(page));
        page.Find("section.controls select").Change("oldest");
        Assert.Equal([small, big], Rows(page));
        page.Find("input[placeholder='name or notes']").Input("");
        Assert.Equal([small, big, other], Rows(page));
    }

    [Fact]
    public void A_session_started_or_stopped_elsewhere_shows_without_a_reload_and_one_stopped_here_at_once()
    {
        var page = Render<SessionList>();
        Assert.Contains("No session yet", page.Markup);

        var here = Store.Create("stopped here", null);
        page.WaitForAssertion(() => Assert.Equal("recording", State(page, here)));
        page.Find($"tr[data-session='{here}'] td:last-child > button").Click();
        Assert.Equal("stopped", State(page, here));

        var elsewhere = Store.Create("stopped elsewhere", null);
        page.WaitForAssertion(() => Assert.Equal("recording", State(page, elsewhere)));
        Assert.True(Store.Stop(elsewhere));
        page.WaitForAssertion(() => Assert.Equal("stopped", State(page, elsewhere)));
    }

    private static void Tick(IRenderedComponent<SessionList> page, long id) =>
        page.Find($"tr[data-session='{id}'] input[type=checkbox]").Change(true);

    private static List<long> Rows(IRenderedComponent<SessionList> page) =>
        page.FindAll("tr[data-session]").Select(r => long.Parse(r.GetAttribute("data-session")!)).ToList();

    private static string State(IRenderedComponent<SessionList> page, long id) =>
        page.Find($"tr[data-session='{id}'] .badge").TextContent;
}
