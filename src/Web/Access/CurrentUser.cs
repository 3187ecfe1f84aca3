using Microsoft.AspNetCore.Components.Authorization;

namespace DropBoard.Web.Access;

/// <summary>
/// The signed-in user of a page, for its event handlers: the buttons an editor needs are not rendered for a
/// viewer, and the handlers check again, so a circuit whose user lost the role since cannot use them either.
/// </summary>
public sealed class CurrentUser(AuthenticationStateProvider state, ILogger<CurrentUser> logger)
{
    /// <returns>False, logged, when the user may not do <paramref name="what"/>.</returns>
    public async Task<bool> MayAsync(Role role, string what)
    {
        var user = (await state.GetAuthenticationStateAsync()).User;
        if (user.IsAtLeast(role)) return true;
        logger.LogWarning("Refused {What} for {Who}: needs the {Role} role", what, user.Who(), role.Name());
        return false;
    }
}
