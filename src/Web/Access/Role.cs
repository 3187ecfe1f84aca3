using System.Security.Claims;

namespace DropBoard.Web.Access;

/// <summary>What a person or API token may do; each role includes the ones below it.</summary>
public enum Role
{
    /// <summary>Reads everything and opens permalinks.</summary>
    Viewer = 1,

    /// <summary>Also starts, stops and deletes sessions, imports, creates and edits investigations.</summary>
    Editor = 2,

    /// <summary>Also manages users, API tokens and agent credentials.</summary>
    Admin = 3,
}

/// <summary>The claims DropBoard puts on a principal and the policies that read them.</summary>
public static class AccessClaims
{
    public const string ViewerPolicy = "viewer", EditorPolicy = "editor", AdminPolicy = "admin", AgentPolicy = "agent";

    /// <summary>Starts and stops sessions: an editor, or an agent recording its own host (<c>dropboard-agent run --session</c>).</summary>
    public const string RecorderPolicy = "recorder";

    /// <summary>Role of a person or API token (<see cref="Role"/> name, lower case).</summary>
    public const string RoleClaim = "dropboard:role";

    /// <summary>How the principal signed in: <c>password</c>, <c>oidc</c>, <c>api-token</c>, <c>agent</c>, <c>open</c>.</summary>
    public const string KindClaim = "dropboard:kind";

    /// <summary>On an agent principal: the host name its credential is bound to (absent for the shared token).</summary>
    public const string HostClaim = "dropboard:host";

    /// <summary>On a password sign-in: changes when the user is removed or re-created, so old cookies stop working.</summary>
    public const string StampClaim = "dropboard:stamp";

    public static string Name(this Role role) => role.ToString().ToLowerInvariant();

    public static bool TryParse(string? text, out Role role) =>
        Enum.TryParse(text, ignoreCase: true, out role) && Enum.IsDefined(role) && !int.TryParse(text, out _);

    /// <summary>The principal's role, or null for an agent or anyone without one.</summary>
    public static Role? RoleOf(ClaimsPrincipal user) =>
        user.Identity?.IsAuthenticated == true && TryParse(user.FindFirstValue(RoleClaim), out var role) ? role : null;

    public static bool IsAtLeast(this ClaimsPrincipal user, Role role) => RoleOf(user) >= role;

    public static bool IsAgent(this ClaimsPrincipal user) => user.FindFirstValue(KindClaim) == "agent";

    /// <summary>Who made a request, for the log: a user or token name, an agent's host, or "anonymous".</summary>
    public static string Who(this ClaimsPrincipal user) => user.Identity?.IsAuthenticated == true
        ? $"{user.FindFirstValue(KindClaim)} '{user.Identity.Name}'"
        : "anonymous";
}
