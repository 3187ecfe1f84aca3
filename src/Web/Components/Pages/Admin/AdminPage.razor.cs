using DropBoard.Web.Access;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;

namespace DropBoard.Web.Components.Pages.Admin;

/// <summary>Users, API tokens and agent credentials: the same store the admin commands use. Each secret is shown once.</summary>
public sealed partial class AdminPage : ComponentBase
{
    [Inject] private AccessStore Store { get; set; } = null!;
    [Inject] private ILogger<AdminPage> Logger { get; set; } = null!;
    [CascadingParameter] private Task<AuthenticationState> Auth { get; set; } = null!;

    private IReadOnlyList<UserEntry> UserList { get; set; } = [];
    private IReadOnlyList<ApiTokenEntry> TokenList { get; set; } = [];
    private IReadOnlyList<AgentCredentialEntry> AgentList { get; set; } = [];
    private (string What, string Secret)? Shown { get; set; }
    private string? Error { get; set; }
    private string NewUser { get; set; } = "";
    private Role NewUserRole { get; set; } = Role.Viewer;
    private string NewToken { get; set; } = "";
    private Role NewTokenRole { get; set; } = Role.Viewer;
    private string NewAgent { get; set; } = "";

    protected override void OnInitialized() => Load();

    private void Load()
    {
        UserList = Store.Users();
        TokenList = Store.Tokens();
        AgentList = Store.Agents();
    }

    private Task AddUser() => DoAsync($"add user {NewUser}", () =>
        Shown = ($"Password for {NewUser.Trim()}", Store.AddUser(NewUser.Trim(), NewUserRole)));

    private Task RemoveUser(string name) => DoAsync($"remove user {name}", () => Store.RemoveUser(name));

    private Task AddToken() => DoAsync($"add token {NewToken}", () =>
        Shown = ($"API token {NewToken.Trim()}", Store.AddToken(NewToken.Trim(), NewTokenRole)));

    private Task RevokeToken(string name) => DoAsync($"revoke token {name}", () => Store.RevokeToken(name));

    private Task AddAgent() => DoAsync($"add agent {NewAgent}", () =>
        Shown = ($"Credential for host {NewAgent.Trim()} (the agent's --token-file, mode 600)", Store.AddAgent(NewAgent.Trim())));

    private Task RevokeAgent(string host) => DoAsync($"revoke agent {host}", () => Store.RevokeAgent(host));

    /// <summary>The page is for admins only; a circuit whose user lost the role since is refused too.</summary>
    private async Task DoAsync(string what, Action change)
    {
        Error = null;
        var user = (await Auth).User;
        if (!user.IsAtLeast(Role.Admin))
        {
            Logger.LogWarning("Refused {What} for {Who}: needs the admin role", what, user.Who());
            Error = "Only an admin may do this.";
            return;
        }
        try
        {
            change();
            Logger.LogInformation("{Who} did: {What}", user.Who(), what);
        }
        catch (AccessException e)
        {
            Error = e.Message;
        }
        Load();
    }

}
