using Bunit;
using DropBoard.Web.Components.Pages.Sessions;
using DropBoard.Web.Sessions;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using static DropBoard.Web.Tests.Hub.AgentHubClient;

namespace DropBoard.Web.Tests.Pages;

/// <summary>A session's page follows its session by itself: what is written, stopped, and the store's trouble.</summary>
public sealed class SessionDetailPageTests : PageTest
{
    [Fact]
    public async Task The_store_trouble_notice_comes_and_goes_with_the_database_and_the_totals_follow()
    {
        var writer = Services.GetRequiredService<SessionWriter>();
        await writer.StartAsync(Xunit.TestContext.Current.CancellationToken);
        var id = Store.Create("recording edge-1", ["edge-1"]);
        var page = Render<SessionDetail>(p => p.Add(x => x.Id, id));
        Assert.Empty(page.FindAll(".notice[role=alert]"));

        string? why;
        // Another process's write transaction holds the file past the writer's 2 s wait.
        await using (var other = new SqliteConnection($"Data Source={Store.Database.Path};Pooling=False"))
        {
            other.Open();
            await using var hold = other.BeginTransaction(System.Data.IsolationLevel.Serializable);
            using (var write = other.CreateCommand())
            {
                write.Transaction = hold;
                write.CommandText = "UPDATE sessions SET notes = notes WHERE id = " + id;
                write.ExecuteNonQuery();
            }
            why = await writer.StoreAsync(new SessionWrite([id], Hello("edge-1"), Batch("edge-1", 1, 40)), Xunit.TestContext.Current.CancellationToken);
            Assert.NotNull(why);
            page.WaitForAssertion(() => Assert.Contains("cannot store batches", page.Find(".notice[role=alert]").TextContent));
            Assert.Contains("0 drops", page.Find("p.badges").TextContent);
        }

        Assert.Null(await writer.StoreAsync(new SessionWrite([id], Hello("edge-1"), Batch("edge-1", 1, 40)), Xunit.TestContext.Current.CancellationToken));
        page.WaitForAssertion(() =>
        {
            Assert.Empty(page.FindAll(".notice[role=alert]"));
            Assert.Contains("40 drops", page.Find("p.badges").TextContent);
        });
        await writer.StopAsync(Xunit.TestContext.Current.CancellationToken);
    }

    [Fact]
    public void Stopped_here_or_elsewhere_the_page_says_stopped_and_deleted_elsewhere_it_says_so()
    {
        var here = Store.Create("stopped here", null);
        var page = Render<SessionDetail>(p => p.Add(x => x.Id, here));
        Assert.Equal("recording", page.Find("p.badges .badge").TextContent);
        page.FindAll("p.badges button").Single(b => b.TextContent == "Stop recording").Click();
        Assert.Equal("stopped", page.Find("p.badges .badge").TextContent);
        Assert.DoesNotContain(page.FindAll("p.badges button"), b => b.TextContent == "Stop recording");

        var elsewhere = Store.Create("stopped elsewhere", null);
        var other = Render<SessionDetail>(p => p.Add(x => x.Id, elsewhere));
        Assert.True(Store.Stop(elsewhere));
        other.WaitForAssertion(() => Assert.Equal("stopped", other.Find("p.badges .badge").TextContent));
        Assert.Equal(SessionDeletion.Deleted, Store.Delete(elsewhere));
        other.WaitForAssertion(() => Assert.Contains("This session was deleted", other.Markup));
    }
}
