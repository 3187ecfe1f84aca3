using Bunit;
using DropBoard.Web.Access;
using DropBoard.Web.Components.Pages.Sessions;
using DropBoard.Web.Sessions;
using Microsoft.Extensions.DependencyInjection;

namespace DropBoard.Web.Tests.Pages;

/// <summary>Rename and delete on the sessions list: each state of the buttons, and what the store then holds.</summary>
public sealed class SessionEditPageTests : PageTest
{
    private SessionQueries Queries => Services.GetRequiredService<SessionQueries>();

    [Fact]
    public void A_bad_name_keeps_the_form_with_the_reason_and_a_good_one_renames()
    {
        var id = Imported("before the fix", 7);
        var page = Render<SessionList>();

        Edit(page, id).QuerySelector("button")!.Click();
        Edit(page, id).QuerySelector("input")!.Change("two\nlines");
        Edit(page, id).QuerySelector("form")!.Submit();
        Assert.Contains("no control characters", Edit(page, id).QuerySelector("[role=alert]")!.TextContent);
        Assert.NotNull(Edit(page, id).QuerySelector("form"));
        Assert.Equal("before the fix", Queries.Get(id)!.Name);

        Edit(page, id).QuerySelector("input")!.Change("  <b>after</b> the fix ");
        Edit(page, id).QuerySelector("form")!.Submit();
        Assert.Equal("<b>after</b> the fix", Queries.Get(id)!.Name);
        page.WaitForAssertion(() => Assert.Equal("<b>after</b> the fix", page.Find($"tr[data-session='{id}'] a").TextContent));
        Assert.Null(Edit(page, id).QuerySelector("form"));
        Assert.Null(Edit(page, id).QuerySelector("[role=alert]"));
    }

    [Fact]
    public void Delete_asks_first_keep_it_keeps_it_and_a_recording_session_cannot_be_deleted()
    {
        var id = Imported("doomed", 3);
        var recording = Store.Create("still recording", null);
        var page = Render<SessionList>();

        Assert.True(Buttons(page, recording)["Delete"].HasAttribute("disabled"));
        Buttons(page, id)["Delete"].Click();
        Assert.Contains("Delete “doomed” and its 3 drops for good?", Edit(page, id).TextContent);
        Buttons(page, id)["Keep it"].Click();
        Assert.NotNull(Queries.Get(id));
        Assert.Contains("Rename", Buttons(page, id).Keys);

        Buttons(page, id)["Delete"].Click();
        Buttons(page, id)["Delete for good"].Click();
        Assert.Null(Queries.Get(id));
        page.WaitForAssertion(() => Assert.Empty(page.FindAll($"tr[data-session='{id}']")));
        Assert.NotNull(Queries.Get(recording));
    }

    private static AngleSharp.Dom.IElement Edit(IRenderedComponent<SessionList> page, long id) => page.Find($"[data-edit='{id}']");

    private static Dictionary<string, AngleSharp.Dom.IElement> Buttons(IRenderedComponent<SessionList> page, long id) =>
        page.FindAll($"[data-edit='{id}'] button").ToDictionary(b => b.TextContent.Trim());
}

/// <summary>A viewer sees sessions and no way to change them.</summary>
public sealed class SessionEditAsViewerPageTests() : PageTest(Role.Viewer)
{
    [Fact]
    public void A_viewer_gets_neither_rename_delete_start_nor_stop()
    {
        var id = Imported("read only", 3);
        var recording = Store.Create("recording", null);
        var page = Render<SessionList>();

        Assert.Equal(2, page.FindAll("tr[data-session]").Count);
        Assert.Empty(page.FindAll("[data-edit]"));
        Assert.Empty(page.FindAll($"tr[data-session='{recording}'] td:last-child button"));
        Assert.Empty(page.FindAll("form[aria-label='Start a session']"));
        Assert.NotEmpty(page.FindAll($"tr[data-session='{id}'] input[type=checkbox]"));
    }
}
