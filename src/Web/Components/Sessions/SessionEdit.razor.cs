using DropBoard.Web.Access;
using DropBoard.Web.Sessions;
using Microsoft.AspNetCore.Components;

namespace DropBoard.Web.Components.Sessions;

/// <summary>Renames or deletes one session; the store tells every open page.</summary>
public sealed partial class SessionEdit : ComponentBase
{
    [Inject] private SessionStore Store { get; set; } = null!;
    [Inject] private CurrentUser User { get; set; } = null!;

    [Parameter, EditorRequired] public SessionInfo Session { get; set; } = null!;

    /// <summary>After this component deleted the session.</summary>
    [Parameter] public EventCallback Deleted { get; set; }

    private bool Renaming { get; set; }
    private bool Confirming { get; set; }
    private string NewName { get; set; } = "";
    private string? Message { get; set; }

    private void StartRename() => (NewName, Renaming, Message) = (Session.Name, true, null);

    private async Task Rename()
    {
        if (!await User.MayAsync(Role.Editor, $"rename session {Session.Id}")) return;
        try
        {
            Message = Store.Rename(Session.Id, NewName.Trim()) ? null : $"session {Session.Id} no longer exists";
            Renaming = false;
        }
        catch (SessionLimitException e)
        {
            Message = e.Message;
        }
    }

    private async Task Delete()
    {
        Confirming = false;
        if (!await User.MayAsync(Role.Editor, $"delete session {Session.Id}")) return;
        Message = Store.Delete(Session.Id) switch
        {
            SessionDeletion.Deleted => null,
            SessionDeletion.Recording => "it is recording: stop it first",
            _ => $"session {Session.Id} no longer exists",
        };
        if (Message is null) await Deleted.InvokeAsync();
    }
}
