using System.Security.Claims;
using Bunit;
using DropBoard.TestKit;
using DropBoard.Web.Access;
using DropBoard.Web.Clock;
using DropBoard.Web.Live;
using DropBoard.Web.Metrics;
using DropBoard.Web.Sessions;
using Microsoft.AspNetCore.Components;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace DropBoard.Web.Tests.Pages;

/// <summary>
/// Pages rendered in-process by bUnit over the dashboard's own services: the live store, the session store,
/// queries and writer on a real SQLite file. Only sign-in is bUnit's: a user with <c>role</c>'s claim and policies.
/// Scripts (the zone switch, charts) answer nothing here; what they do is the Chromium tests' part.
/// </summary>
public abstract class PageTest : BunitContext
{
    private readonly string _database = WebAppProcess.NewDatabasePath();

    // Pages refresh at most every 1–2 s, and this machine is shared: waits are generous, passing as soon as they can.
    static PageTest() => DefaultWaitTimeout = TimeSpan.FromSeconds(10);

    protected PageTest(Role role = Role.Editor)
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["DropBoard:Database"] = _database }).Build();
        Services.AddLive(configuration);
        Services.AddPrometheusMetrics();
        Services.AddSessions(configuration);
        Services.AddScoped<ViewerClock>();
        Services.AddScoped<CurrentUser>();
        var user = AddAuthorization();
        user.SetAuthorized($"{role.Name()}-user");
        user.SetClaims(new Claim(AccessClaims.RoleClaim, role.Name()));
        user.SetPolicies(Enum.GetValues<Role>().Where(r => r <= role).Select(r => r.Name()).ToArray());
        JSInterop.Mode = JSRuntimeMode.Loose;
        SetRendererInfo(new RendererInfo("Server", isInteractive: true));
    }

    protected SessionStore Store => Services.GetRequiredService<SessionStore>();
    protected LiveStore Live => Services.GetRequiredService<LiveStore>();
    protected NavigationManager Navigation => Services.GetRequiredService<NavigationManager>();

    /// <summary>The page's address, path and query, relative to the base.</summary>
    protected string Address => Navigation.ToBaseRelativePath(Navigation.Uri);

    /// <summary>A stopped session of <paramref name="drops"/> drops on one host, as an import leaves it.</summary>
    protected long Imported(string name, long drops, long startedMs = 1_700_000_000_000) =>
        Store.Import(new SessionFile(SessionFile.FormatName, 1, name, "import", startedMs, startedMs + 60_000, "",
            [new SessionFileHost("edge-1", "edge-1", "6.18.0", "tracepoint", 10, 0,
                [new Shared.Contracts.DropBucket("udp_queue_rcv_one_skb+0x437", "udp_queue_rcv_one_skb", "SOCKET_RCVBUFF", startedMs, drops, 0x0800)], [], [])],
            []));

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) DeleteDatabase();
    }

    protected override async ValueTask DisposeAsyncCore()
    {
        await base.DisposeAsyncCore();
        DeleteDatabase();
    }

    private void DeleteDatabase()
    {
        SqliteConnection.ClearAllPools();
        foreach (var file in Directory.GetFiles(Path.GetDirectoryName(_database)!, Path.GetFileName(_database) + "*")) File.Delete(file);
    }
}
