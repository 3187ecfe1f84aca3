using DropBoard.Web.Access;
using DropBoard.Web.Investigations;
using DropBoard.Web.Sessions;
using DropBoard.Web.Views;
using Microsoft.AspNetCore.Components;

namespace DropBoard.Web.Components.Pages.Sessions;

/// <summary>An investigation opened from its link: exactly the saved sessions, filters, window, pins and notes.</summary>
public sealed partial class InvestigationPage : ComponentBase
{
    [Inject] private InvestigationStore Store { get; set; } = null!;
    [Inject] private SessionQueries Queries { get; set; } = null!;
    [Inject] private NavigationManager Navigation { get; set; } = null!;
    [Inject] private CurrentUser User { get; set; } = null!;

    [Parameter] public string Slug { get; set; } = "";
    /// <summary>Non-network frees are the viewer's switch, not part of what was saved.</summary>
    [SupplyParameterFromQuery(Name = "nonnetwork")] public bool? NonNetworkQuery { get; set; }

    private Investigation? Investigation { get; set; }
    /// <summary>Each saved session in order; no view for one deleted since (ids are never given again, so it stays gone).</summary>
    private IReadOnlyList<(long Id, SessionView? View)> Views { get; set; } = [];
    private string NotesHtml { get; set; } = "";
    private bool Editing { get; set; }
    private string EditTitle { get; set; } = "";
    private string EditNotes { get; set; } = "";

    protected override void OnParametersSet() => Load();

    private void Load()
    {
        // Bounded before the lookup: a slug is 22 characters of base64url.
        Investigation = Slug.Length <= 64 ? Store.Get(Slug) : null;
        if (Investigation is null)
        {
            Navigation.NotFound();
            return;
        }
        var b = Investigation.Body;
        var request = new ViewRequest(b.Filters?.Host, new DropFilter(b.Filters?.Site, b.Filters?.Reason, NonNetwork: NonNetworkShown), b.Window?.FromMs, b.Window?.ToMs);
        Views = b.Sessions.Select(id => (id, SessionView.Build(Queries, id, request))).ToList();
        NotesHtml = InvestigationNotes.ToHtml(b.Notes);
    }

    private bool NonNetworkShown => NonNetworkQuery ?? false;

    private void ShowNonNetwork(bool shown) =>
        Navigation.NavigateTo(Navigation.GetUriWithQueryParameter("nonnetwork", shown ? "true" : null), replace: true);

    private void Edit()
    {
        (EditTitle, EditNotes, Editing) = (Investigation!.Body.Title, Investigation.Body.Notes, true);
    }

    private async Task Save()
    {
        if (!await User.MayAsync(Role.Editor, $"edit investigation {Slug}")) return;
        if (SessionLimits.NameProblem(EditTitle.Trim()) is not null && EditTitle.Trim().Length > 0) return;
        Store.Update(Slug, Investigation!.Body with { Title = EditTitle.Trim().Length > 0 ? EditTitle.Trim() : Investigation.Body.Title, Notes = EditNotes });
        Editing = false;
        Load();
    }
}
