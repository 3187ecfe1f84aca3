using DropBoard.Web.Components.Refresh;
using DropBoard.Web.Access;
using DropBoard.Web.Live;
using DropBoard.Web.Sessions;
using DropBoard.Web.Sessions.Import;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;

namespace DropBoard.Web.Components.Pages.Sessions;

/// <summary>Sessions: search, sort, start and stop recording, rename, delete, import captures.</summary>
public sealed partial class SessionList : ComponentBase, IDisposable
{
    [Inject] private SessionQueries Queries { get; set; } = null!;
    [Inject] private SessionStore Store { get; set; } = null!;
    [Inject] private SessionImporter Importer { get; set; } = null!;
    [Inject] private LiveStore Live { get; set; } = null!;
    [Inject] private NavigationManager Navigation { get; set; } = null!;
    [Inject] private CurrentUser User { get; set; } = null!;

    private IReadOnlyList<SessionInfo> List { get; set; } = [];
    private IReadOnlyList<HostStatus> LiveHosts { get; set; } = [];
    private string Search { get; set; } = "";
    private string Sort { get; set; } = "newest";
    private string NewName { get; set; } = "";
    private string NewHost { get; set; } = "";
    private string ImportFormat { get; set; } = "dropwatch";
    private string ImportName { get; set; } = "";
    private string ImportKernel { get; set; } = "";
    private double? ImportSeconds { get; set; }
    private readonly byte[]?[] _picked = new byte[]?[3];
    private string? _pickedName;
    private byte[]? ImportFile => _picked[0];
    private string? ImportMessage { get; set; }
    private string? StartMessage { get; set; }
    private bool ImportFailed { get; set; }

    protected override void OnInitialized()
    {
        LiveHosts = Live.Hosts();
        Load();
    }

    private StoreRefresh? _refresh;

    // Sessions started, stopped, imported or growing elsewhere (the API, an agent, a teammate) show up here.
    protected override void OnAfterRender(bool firstRender)
    {
        if (firstRender)
            _refresh = new StoreRefresh(Store, _ => true, () => InvokeAsync(() => { Load(); StateHasChanged(); }), TimeSpan.FromSeconds(2));
    }

    private void Load()
    {
        List = Queries.List(Search, Sort);
        // A ticked session deleted since (here or elsewhere) is no longer one to compare; one the search hides still is.
        Ticked.RemoveAll(id => List.All(s => s.Id != id) && Queries.Get(id) is null);
    }

    // In the order ticked: the first is A (before), the second B (after).
    private List<long> Ticked { get; } = [];

    private void Tick(long id)
    {
        if (!Ticked.Remove(id)) Ticked.Add(id);
    }

    private void CompareTicked()
    {
        if (Ticked.Count == 2) Navigation.NavigateTo($"compare?a={Ticked[0]}&b={Ticked[1]}");
    }

    private async Task Start()
    {
        if (string.IsNullOrWhiteSpace(NewName) || !await User.MayAsync(Role.Editor, "start a session")) return;
        long id;
        try
        {
            id = Store.Create(NewName.Trim(), NewHost == "" ? null : [NewHost]);
        }
        catch (SessionLimitException e)
        {
            StartMessage = e.Message;
            return;
        }
        Navigation.NavigateTo($"sessions/{id}");
    }

    private async Task Stop(long id)
    {
        if (!await User.MayAsync(Role.Editor, $"stop session {id}")) return;
        Store.Stop(id);
        Load();
    }

    private async Task Picked(InputFileChangeEventArgs e, int slot)
    {
        var limit = slot == 0 ? ImportLimits.MaxFileBytes : ImportLimits.MaxNetstatBytes;
        try
        {
            using var stream = e.File.OpenReadStream(limit);
            using var copy = new MemoryStream();
            await stream.CopyToAsync(copy);
            _picked[slot] = copy.ToArray();
            if (slot == 0) _pickedName = e.File.Name;
        }
        catch (IOException)
        {
            // Over the limit: said here, instead of ending the page's circuit.
            _picked[slot] = null;
            (ImportMessage, ImportFailed) = ($"{e.File.Name}: larger than {limit >> 20} MiB, the most an import takes", true);
        }
    }

    private async Task Import()
    {
        if (ImportFile is null || !await User.MayAsync(Role.Editor, "import a capture")) return;
        try
        {
            var text = (int slot) => _picked[slot] is { } b ? System.Text.Encoding.UTF8.GetString(b) : null;
            var dropwatch = ImportFormat == "dropwatch";
            var id = Importer.Import(ImportFormat, ImportFile, Blank(ImportName) ?? _pickedName, Blank(ImportKernel),
                dropwatch ? text(1) : null, dropwatch ? text(2) : null, dropwatch ? ImportSeconds : null);
            Navigation.NavigateTo($"sessions/{id}");
        }
        catch (ImportException e)
        {
            (ImportMessage, ImportFailed) = ($"{_pickedName}: {e.Message}", true);
        }
    }

    private static string? Blank(string text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();

    private static string Duration(SessionInfo s)
    {
        if (s.KnownDurationMs(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()) is not { } ms) return "—";
        var d = TimeSpan.FromMilliseconds(ms);
        return d.TotalHours >= 1 ? $"{(int)d.TotalHours} h {d.Minutes} min" : d.TotalMinutes >= 1 ? $"{(int)d.TotalMinutes} min {d.Seconds} s" : $"{d.TotalSeconds:0} s";
    }

    public void Dispose() => _refresh?.Dispose();
}
