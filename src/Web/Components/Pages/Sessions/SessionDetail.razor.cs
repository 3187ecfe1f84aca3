using DropBoard.Web.Components.Refresh;
using DropBoard.Web.Access;
using DropBoard.Web.Investigations;
using DropBoard.Shared.Packets;
using DropBoard.Web.Sessions;
using DropBoard.Web.Views;
using Microsoft.AspNetCore.Components;

namespace DropBoard.Web.Components.Pages.Sessions;

/// <summary>
/// One session: histogram, drops over time, counters, hosts, explanation; compare, save as investigation, rename, delete.
/// Filters are in the URL (<c>?site=&amp;reason=&amp;protocol=&amp;nonnetwork=</c>) and make one view request every panel reads.
/// </summary>
public sealed partial class SessionDetail : ComponentBase, IDisposable
{
    [Inject] private SessionQueries Queries { get; set; } = null!;
    [Inject] private SessionStore Store { get; set; } = null!;
    [Inject] private SessionWriter Writer { get; set; } = null!;
    [Inject] private InvestigationStore Investigations { get; set; } = null!;
    [Inject] private NavigationManager Navigation { get; set; } = null!;
    [Inject] private CurrentUser User { get; set; } = null!;

    [Parameter] public long Id { get; set; }
    [SupplyParameterFromQuery(Name = "site")] public string? Site { get; set; }
    [SupplyParameterFromQuery(Name = "reason")] public string? ReasonQuery { get; set; }
    [SupplyParameterFromQuery(Name = "protocol")] public string? Protocol { get; set; }
    [SupplyParameterFromQuery(Name = "nonnetwork")] public bool? NonNetworkQuery { get; set; }

    private SessionView? View { get; set; }
    private IReadOnlyList<SessionInfo> Others { get; set; } = [];
    private IReadOnlyList<string> Reasons { get; set; } = [];
    private IReadOnlyList<string> Protocols { get; set; } = [];
    private string SiteFilter { get; set; } = "";
    private string ReasonFilter { get; set; } = "";
    private string ProtocolFilter { get; set; } = "";
    private bool NonNetworkShown { get; set; }
    private IReadOnlyList<InvestigationSummary> Linked { get; set; } = [];
    private long CompareWith { get; set; }
    private string Title { get; set; } = "";
    private string Notes { get; set; } = "";
    private string Reason { get; set; } = "";
    private StoreRefresh? _refresh;

    // Deleted while this page was open (by someone else, or the API): said so, rather than "no such session".
    private bool DeletedHere { get; set; }

    protected override void OnParametersSet()
    {
        (SiteFilter, ReasonFilter, ProtocolFilter) = (ViewFilters.Bounded(Site), ViewFilters.Bounded(ReasonQuery), ViewFilters.Bounded(Protocol));
        NonNetworkShown = NonNetworkQuery ?? false;
        Load();
        if (View is null)
        {
            Navigation.NotFound();
            return;
        }
        Others = Queries.List().Where(s => s.Id != Id).ToList();
        Linked = Investigations.List(Id);
        Title = View is null ? "" : $"Investigation of {View.Session.Name}";

    }

    // A recording session grows: show it growing, as the store writes it (a storm costs one render a second); it stops,
    // is renamed or deleted here or elsewhere, and the store cannot write: say so, as it happens.
    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
            _refresh = new StoreRefresh(Store, change =>
            {
                if (change.Id == Id && change.Kind == SessionChangeKind.Deleted) DeletedHere = true;
                return change.Id == Id;
            }, () => InvokeAsync(() => { Load(); StateHasChanged(); }), TimeSpan.FromSeconds(1), Writer);
    }

    private void Load()
    {
        View = SessionView.Build(Queries, Id, new ViewRequest(Filter: new DropFilter(SiteFilter, ReasonFilter, ProtocolFilter, NonNetworkShown)));
        var all = Queries.Sites(Id);
        Reasons = all.Select(s => s.Reason ?? "-").Distinct().Order(StringComparer.Ordinal).ToList();
        Protocols = all.Select(s => EtherType.Name(s.Protocol)).Distinct().Order(StringComparer.Ordinal).ToList();
    }

    // A filter changed: into the URL (replacing, not adding to history); the URL sets the parameters back.
    private void Apply() => Navigation.NavigateTo(Navigation.GetUriWithQueryParameters(new Dictionary<string, object?>
    {
        ["site"] = ViewFilters.Blank(SiteFilter), ["reason"] = ViewFilters.Blank(ReasonFilter), ["protocol"] = ViewFilters.Blank(ProtocolFilter),
        ["nonnetwork"] = NonNetworkShown ? "true" : null,
    }), replace: true);

    private void ShowNonNetwork(bool shown)
    {
        NonNetworkShown = shown;
        Apply();
    }

    private async Task Stop()
    {
        if (!await User.MayAsync(Role.Editor, $"stop session {Id}")) return;
        Store.Stop(Id);
        Load();
    }

    private void Compare() => Navigation.NavigateTo($"compare?a={Id}&b={CompareWith}");

    private async Task SaveInvestigation()
    {
        if (string.IsNullOrWhiteSpace(Title) || !await User.MayAsync(Role.Editor, $"save an investigation of session {Id}")) return;
        // The page's filters go with it; the form's reason, when picked, narrows them.
        var reason = Reason == "" ? ViewFilters.Blank(ReasonFilter) : Reason;
        var filters = new InvestigationFilters(ViewFilters.Blank(SiteFilter), reason);
        var slug = Investigations.Create(new InvestigationBody(Title.Trim(), [Id], Notes, filters == new InvestigationFilters() ? null : filters));
        Navigation.NavigateTo($"i/{slug}");
    }

    public void Dispose() => _refresh?.Dispose();
}
