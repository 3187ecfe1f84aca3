using DropBoard.Web.Live;
using DropBoard.Web.Sessions;
using DropBoard.Web.Sessions.Import;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;

namespace DropBoard.Web.Components.Pages.Sessions;

/// <summary>Sessions: search, sort, start and stop recording, import captures.</summary>
public sealed partial class SessionList : ComponentBase
{
    private const long MaxImportBytes = 64 * 1024 * 1024;

    [Inject] private SessionQueries Queries { get; set; } = null!;
    [Inject] private SessionStore Store { get; set; } = null!;
    [Inject] private SessionRecorder Recorder { get; set; } = null!;
    [Inject] private SessionImporter Importer { get; set; } = null!;
    [Inject] private LiveStore Live { get; set; } = null!;
    [Inject] private NavigationManager Navigation { get; set; } = null!;

    private IReadOnlyList<SessionInfo> List { get; set; } = [];
    private IReadOnlyList<HostStatus> LiveHosts { get; set; } = [];
    private string Search { get; set; } = "";
    private string Sort { get; set; } = "newest";
    private string NewName { get; set; } = "";
    private string NewHost { get; set; } = "";
    private string ImportFormat { get; set; } = "dropwatch";
    private readonly byte[]?[] _picked = new byte[]?[3];
    private string? _pickedName;
    private byte[]? ImportFile => _picked[0];
    private string? ImportMessage { get; set; }
    private bool ImportFailed { get; set; }

    protected override void OnInitialized()
    {
        LiveHosts = Live.Hosts();
        Load();
    }

    private void Load() => List = Queries.List(Search, Sort);

    private void Start()
    {
        if (string.IsNullOrWhiteSpace(NewName)) return;
        var id = Store.Create(NewName.Trim(), NewHost == "" ? null : [NewHost]);
        Recorder.Refresh();
        Navigation.NavigateTo($"sessions/{id}");
    }

    private void Stop(long id)
    {
        Store.Stop(id);
        Recorder.Refresh();
        Load();
    }

    private async Task Picked(InputFileChangeEventArgs e, int slot)
    {
        using var stream = e.File.OpenReadStream(MaxImportBytes);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        _picked[slot] = copy.ToArray();
        if (slot == 0) _pickedName = e.File.Name;
    }

    private void Import()
    {
        if (ImportFile is null) return;
        try
        {
            var text = (int slot) => _picked[slot] is { } b ? System.Text.Encoding.UTF8.GetString(b) : null;
            var id = Importer.Import(ImportFormat, ImportFile, _pickedName, null, text(1), text(2));
            Navigation.NavigateTo($"sessions/{id}");
        }
        catch (ImportException e)
        {
            (ImportMessage, ImportFailed) = ($"{_pickedName}: {e.Message}", true);
        }
    }

    private static string Time(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss");

    private static string Duration(SessionInfo s)
    {
        var d = TimeSpan.FromMilliseconds(s.DurationMs(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds()));
        return d.TotalHours >= 1 ? $"{(int)d.TotalHours} h {d.Minutes} min" : d.TotalMinutes >= 1 ? $"{(int)d.TotalMinutes} min {d.Seconds} s" : $"{d.TotalSeconds:0} s";
    }
}
