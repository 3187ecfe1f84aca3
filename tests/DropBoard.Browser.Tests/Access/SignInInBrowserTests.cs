using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using DropBoard.Browser.Tests.Infrastructure;
using DropBoard.TestKit;
using Microsoft.Playwright;
using static DropBoard.Browser.Tests.Infrastructure.TestPages;

namespace DropBoard.Browser.Tests.Access;

/// <summary>
/// Sign-in and roles in a real Chromium against the real dashboard started with <c>DropBoard:RequireSignIn=true</c>:
/// the sign-in page refuses a wrong password and returns to the page asked for; a viewer sees sessions but none of
/// an editor's controls and cannot write from the page either; an editor records; an admin manages users; signing
/// out ends it. And the zero-configuration loopback start stays open, saying so.
/// </summary>
public sealed class SignInInBrowserTests
{
    /// <summary>Ceiling for every wait on a condition: generous, for a loaded 2-core CI machine.</summary>
    private const float Ceiling = 30_000;

    private const string AuthCookie = "dropboard";

    [Fact]
    public async Task An_unauthenticated_visit_signs_in_refuses_a_wrong_password_and_returns_to_the_page_asked_for()
    {
        var db = WebAppProcess.NewDatabasePath();
        var password = WebAppProcess.NewSecret(db, "users", "add", "vera", "--role", "viewer");
        await using var app = await StartSignInRequiredAsync(db);
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);

        await page.GotoAsync("sessions");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex(@"/account/login\?ReturnUrl=%2Fsessions$"), new() { Timeout = Ceiling });
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Sign in", new() { Timeout = Ceiling });
        await Assertions.Expect(page.Locator(".who")).ToHaveCountAsync(0, new() { Timeout = Ceiling });
        await Chromium.ScreenshotAsync(page, "signin-page");

        await SubmitSignInAsync(page, "vera", password + "-wrong");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex(@"/account/login\?failed=1&returnUrl=%2Fsessions$"), new() { Timeout = Ceiling });
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("Unknown user or wrong password.", new() { Timeout = Ceiling });
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == AuthCookie);

        await SubmitSignInAsync(page, "vera", password);
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/sessions$"), new() { Timeout = Ceiling });
        await WaitForCircuitAsync(page);
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Sessions", new() { Timeout = Ceiling });
        var who = page.Locator(".who");
        await Assertions.Expect(who).ToHaveAttributeAsync("data-user", "vera", new() { Timeout = Ceiling });
        await Assertions.Expect(who).ToHaveAttributeAsync("data-role", "viewer", new() { Timeout = Ceiling });
        await Assertions.Expect(who).ToContainTextAsync("vera", new() { Timeout = Ceiling });
        var cookie = Assert.Single(await page.Context.CookiesAsync(), c => c.Name == AuthCookie);
        Assert.True(cookie.HttpOnly, "the sign-in cookie must be HttpOnly, out of reach of page scripts");
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToHaveCountAsync(0, new() { Timeout = Ceiling });
    }

    [Fact]
    public async Task A_viewer_sees_sessions_without_editor_controls_is_denied_admin_and_cannot_write_from_the_page()
    {
        var db = WebAppProcess.NewDatabasePath();
        var password = WebAppProcess.NewSecret(db, "users", "add", "vera", "--role", "viewer");
        var token = WebAppProcess.NewSecret(db, "tokens", "add", "ci", "--role", "editor");
        await using var app = await StartSignInRequiredAsync(db);
        app.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var id = await CreateSessionAsync(app, "made by ci");
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await SignInAsync(page, "sessions", "vera", password);

        // The list, but nothing of an editor's: no recording form, no import, no Stop on the recording session.
        await WaitForCircuitAsync(page);
        var row = page.Locator($"table.sessions tr[data-session='{id}']");
        await Assertions.Expect(row).ToContainTextAsync("made by ci", new() { Timeout = Ceiling });
        await Assertions.Expect(row).ToContainTextAsync("recording", new() { Timeout = Ceiling });
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Start recording" })).ToHaveCountAsync(0, new() { Timeout = Ceiling });
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Record a session" })).ToHaveCountAsync(0, new() { Timeout = Ceiling });
        await Assertions.Expect(page.Locator("section.import")).ToHaveCountAsync(0, new() { Timeout = Ceiling });
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Import a capture" })).ToHaveCountAsync(0, new() { Timeout = Ceiling });
        await Assertions.Expect(row.GetByRole(AriaRole.Button, new() { Name = "Stop" })).ToHaveCountAsync(0, new() { Timeout = Ceiling });
        await Assertions.Expect(page.GetByRole(AriaRole.Link, new() { Name = "Admin", Exact = true })).ToHaveCountAsync(0, new() { Timeout = Ceiling });
        await Chromium.ScreenshotAsync(page, "viewer-sessions");

        // The viewer's cookie from the page itself: refused, and nothing created.
        var write = await FetchCreateSessionAsync(page, "x");
        Assert.True(write.Status == (int)HttpStatusCode.Forbidden, $"a viewer's POST /api/sessions from the page answered {write.Status}: {write.Body}\n{app.Log}");
        Assert.DoesNotContain(await SessionNamesAsync(app), n => n == "x");
        Assert.Equal(["made by ci"], await SessionNamesAsync(app));

        // A session's page: compare is there, stopping and saving are not.
        await page.GotoAsync($"sessions/{id}");
        await WaitForCircuitAsync(page);
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("made by ci", new() { Timeout = Ceiling });
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Compare", Exact = true })).ToBeVisibleAsync(new() { Timeout = Ceiling });
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Stop recording" })).ToHaveCountAsync(0, new() { Timeout = Ceiling });
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Save and get a link" })).ToHaveCountAsync(0, new() { Timeout = Ceiling });
        await Assertions.Expect(page.GetByRole(AriaRole.Textbox, new() { Name = "Title" })).ToHaveCountAsync(0, new() { Timeout = Ceiling });

        // The admin page: denied, and none of its content.
        await page.GotoAsync("admin");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/account/denied"), new() { Timeout = Ceiling });
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Not allowed", new() { Timeout = Ceiling });
        await Assertions.Expect(page.GetByRole(AriaRole.Alert)).ToContainTextAsync("Your role does not allow this page", new() { Timeout = Ceiling });
        await Assertions.Expect(page.GetByRole(AriaRole.Heading, new() { Name = "Users" })).ToHaveCountAsync(0, new() { Timeout = Ceiling });
        Assert.Equal(["made by ci"], await SessionNamesAsync(app));
    }

    [Fact]
    public async Task An_editor_records_from_the_page_and_an_admin_sees_the_admin_page_with_its_users()
    {
        var db = WebAppProcess.NewDatabasePath();
        var editorPassword = WebAppProcess.NewSecret(db, "users", "add", "eddie", "--role", "editor");
        var adminPassword = WebAppProcess.NewSecret(db, "users", "add", "ada", "--role", "admin");
        WebAppProcess.NewSecret(db, "users", "add", "vera", "--role", "viewer");
        var token = WebAppProcess.NewSecret(db, "tokens", "add", "ci", "--role", "editor");
        await using var app = await StartSignInRequiredAsync(db);
        app.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        await using var chromium = await Chromium.LaunchAsync();

        // The editor: sees the form, starts a session, lands on it with Stop recording; no Admin link.
        var editor = await chromium.NewPageAsync(app.BaseAddress);
        await SignInAsync(editor, "sessions", "eddie", editorPassword);
        await WaitForCircuitAsync(editor);
        await Assertions.Expect(editor.Locator(".who")).ToHaveAttributeAsync("data-role", "editor", new() { Timeout = Ceiling });
        await Assertions.Expect(editor.GetByRole(AriaRole.Link, new() { Name = "Admin", Exact = true })).ToHaveCountAsync(0, new() { Timeout = Ceiling });
        await Assertions.Expect(editor.GetByRole(AriaRole.Heading, new() { Name = "Import a capture" })).ToBeVisibleAsync(new() { Timeout = Ceiling });
        await editor.GetByRole(AriaRole.Form, new() { Name = "Start a session" }).GetByRole(AriaRole.Textbox, new() { Name = "Name" }).FillAsync("recorded by the editor");
        await editor.GetByRole(AriaRole.Button, new() { Name = "Start recording" }).ClickAsync();
        await Assertions.Expect(editor.Locator("h1")).ToHaveTextAsync("recorded by the editor", new() { Timeout = Ceiling });
        await WaitForCircuitAsync(editor);
        await Assertions.Expect(editor.GetByRole(AriaRole.Button, new() { Name = "Stop recording" })).ToBeVisibleAsync(new() { Timeout = Ceiling });
        await Assertions.Expect(editor.GetByRole(AriaRole.Button, new() { Name = "Save and get a link" })).ToBeVisibleAsync(new() { Timeout = Ceiling });
        await Assertions.Expect(editor.GetByRole(AriaRole.Textbox, new() { Name = "Title" })).ToBeVisibleAsync(new() { Timeout = Ceiling });
        var sessions = await app.Http.GetFromJsonAsync<JsonElement>("api/sessions");
        var recorded = Assert.Single(sessions.EnumerateArray(), s => s.GetProperty("name").GetString() == "recorded by the editor");
        Assert.Equal("recording", recorded.GetProperty("state").GetString());

        // Back on the list, the editor's controls are there: the form, the import, Stop on the recording session.
        await editor.GotoAsync("sessions");
        await WaitForCircuitAsync(editor);
        await Assertions.Expect(editor.GetByRole(AriaRole.Heading, new() { Name = "Record a session" })).ToBeVisibleAsync(new() { Timeout = Ceiling });
        await Assertions.Expect(editor.Locator("section.import")).ToBeVisibleAsync(new() { Timeout = Ceiling });
        await Assertions.Expect(editor.Locator($"table.sessions tr[data-session='{recorded.GetProperty("id").GetInt64()}']")
            .GetByRole(AriaRole.Button, new() { Name = "Stop" })).ToBeVisibleAsync(new() { Timeout = Ceiling });

        // Even an editor's cookie does not write from a script without the antiforgery token.
        var write = await FetchCreateSessionAsync(editor, "x");
        Assert.True(write.Status == (int)HttpStatusCode.Forbidden, $"an editor's POST /api/sessions without the antiforgery token answered {write.Status}: {write.Body}\n{app.Log}");
        Assert.Contains("antiforgery", write.Body, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(["recorded by the editor"], await SessionNamesAsync(app));

        // The admin: the Admin link leads to the users, with their roles, and the API token.
        var admin = await chromium.NewPageAsync(app.BaseAddress);
        await SignInAsync(admin, "sessions", "ada", adminPassword);
        await WaitForCircuitAsync(admin);
        await Assertions.Expect(admin.Locator(".who")).ToHaveAttributeAsync("data-role", "admin", new() { Timeout = Ceiling });
        await admin.GetByRole(AriaRole.Link, new() { Name = "Admin", Exact = true }).ClickAsync();
        await Assertions.Expect(admin).ToHaveURLAsync(new Regex("/admin$"), new() { Timeout = Ceiling });
        await WaitForCircuitAsync(admin);
        await Assertions.Expect(admin.Locator("h1")).ToHaveTextAsync("Admin", new() { Timeout = Ceiling });
        await Assertions.Expect(admin.GetByRole(AriaRole.Heading, new() { Name = "Users" })).ToBeVisibleAsync(new() { Timeout = Ceiling });
        var users = admin.GetByRole(AriaRole.Region, new() { Name = "Users" });
        await Assertions.Expect(users.Locator("tr[data-user]")).ToHaveCountAsync(3, new() { Timeout = Ceiling });
        await Assertions.Expect(users.Locator("tr[data-user='ada'] td").Nth(1)).ToHaveTextAsync("admin", new() { Timeout = Ceiling });
        await Assertions.Expect(users.Locator("tr[data-user='eddie'] td").Nth(1)).ToHaveTextAsync("editor", new() { Timeout = Ceiling });
        await Assertions.Expect(users.Locator("tr[data-user='vera'] td").Nth(1)).ToHaveTextAsync("viewer", new() { Timeout = Ceiling });
        await Assertions.Expect(admin.Locator("tr[data-token='ci']")).ToContainTextAsync("editor", new() { Timeout = Ceiling });
    }

    [Fact]
    public async Task Signing_out_returns_to_the_sign_in_page_and_the_pages_ask_for_it_again()
    {
        var db = WebAppProcess.NewDatabasePath();
        var password = WebAppProcess.NewSecret(db, "users", "add", "vera", "--role", "viewer");
        await using var app = await StartSignInRequiredAsync(db);
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await SignInAsync(page, "sessions", "vera", password);
        await WaitForCircuitAsync(page);
        Assert.Contains(await page.Context.CookiesAsync(), c => c.Name == AuthCookie);

        await page.GetByRole(AriaRole.Button, new() { Name = "Sign out" }).ClickAsync();
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/account/login$"), new() { Timeout = Ceiling });
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Sign in", new() { Timeout = Ceiling });
        await Assertions.Expect(page.Locator(".who")).ToHaveCountAsync(0, new() { Timeout = Ceiling });
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == AuthCookie);

        await page.GotoAsync("sessions");
        await Assertions.Expect(page).ToHaveURLAsync(new Regex(@"/account/login\?ReturnUrl=%2Fsessions$"), new() { Timeout = Ceiling });
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Sign in", new() { Timeout = Ceiling });
    }

    [Fact]
    public async Task A_removed_user_loses_the_page_already_open_within_seconds()
    {
        var db = WebAppProcess.NewDatabasePath();
        var password = WebAppProcess.NewSecret(db, "users", "add", "leaver", "--role", "editor");
        await using var app = await StartSignInRequiredAsync(db);
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);
        await SignInAsync(page, "sessions", "leaver", password);
        await WaitForCircuitAsync(page);
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Start recording" })).ToBeVisibleAsync(new() { Timeout = Ceiling });

        Assert.Equal(0, WebAppProcess.Admin(db, "users", "remove", "leaver").ExitCode);

        // The circuit re-checks its user every 5 s; the open page then goes to the sign-in page by itself.
        await Assertions.Expect(page).ToHaveURLAsync(new Regex(@"/account/login\?ReturnUrl=%2Fsessions$"), new() { Timeout = Ceiling });
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Sign in", new() { Timeout = Ceiling });
    }

    [Fact]
    public async Task The_zero_configuration_loopback_start_opens_without_sign_in_and_says_so()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");
        await using var chromium = await Chromium.LaunchAsync();
        var page = await chromium.NewPageAsync(app.BaseAddress);

        await page.GotoAsync("sessions");
        await WaitForCircuitAsync(page);
        await Assertions.Expect(page).ToHaveURLAsync(new Regex("/sessions$"), new() { Timeout = Ceiling });
        await Assertions.Expect(page.Locator("h1")).ToHaveTextAsync("Sessions", new() { Timeout = Ceiling });
        await Assertions.Expect(page.Locator(".open-notice")).ToBeVisibleAsync(new() { Timeout = Ceiling });
        await Assertions.Expect(page.Locator(".open-notice")).ToContainTextAsync("Open access", new() { Timeout = Ceiling });
        await Assertions.Expect(page.Locator(".who")).ToHaveAttributeAsync("data-role", "admin", new() { Timeout = Ceiling });
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Start recording" })).ToBeVisibleAsync(new() { Timeout = Ceiling });
        await Assertions.Expect(page.GetByRole(AriaRole.Button, new() { Name = "Sign out" })).ToHaveCountAsync(0, new() { Timeout = Ceiling });
        Assert.DoesNotContain(await page.Context.CookiesAsync(), c => c.Name == AuthCookie);
    }

    private static Task<WebAppProcess> StartSignInRequiredAsync(string db) =>
        WebAppProcess.StartAsync("DropBoard:Database=" + db, "DropBoard:RequireSignIn=true", "DropBoard:EmbeddedAgent=false");

    /// <summary>Opens <paramref name="path"/>, is sent to the sign-in page, signs in and is returned to <paramref name="path"/>.</summary>
    private static async Task SignInAsync(IPage page, string path, string name, string password)
    {
        await page.GotoAsync(path);
        await Assertions.Expect(page).ToHaveURLAsync(new Regex(@"/account/login\?"), new() { Timeout = Ceiling });
        await SubmitSignInAsync(page, name, password);
        await Assertions.Expect(page).ToHaveURLAsync(new Regex($"/{Regex.Escape(path)}$"), new() { Timeout = Ceiling });
    }

    private static async Task SubmitSignInAsync(IPage page, string name, string password)
    {
        await page.GetByLabel("User", new() { Exact = true }).FillAsync(name);
        await page.GetByLabel("Password", new() { Exact = true }).FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in", Exact = true }).ClickAsync();
    }

    /// <summary>A script on the page writing with the page's cookie, but without the antiforgery token.</summary>
    private static async Task<(int Status, string Body)> FetchCreateSessionAsync(IPage page, string name)
    {
        var answer = await page.EvaluateAsync<JsonElement>(
            """
            async name => {
                const r = await fetch('/api/sessions', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name }) });
                return { status: r.status, body: await r.text() };
            }
            """, name);
        return (answer.GetProperty("status").GetInt32(), answer.GetProperty("body").GetString() ?? "");
    }

    private static async Task<long> CreateSessionAsync(WebAppProcess app, string name)
    {
        using var response = await app.Http.PostAsJsonAsync("api/sessions", new { name });
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST /api/sessions with the editor token answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}\n{app.Log}");
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    private static async Task<string[]> SessionNamesAsync(WebAppProcess app) =>
        (await app.Http.GetFromJsonAsync<JsonElement>("api/sessions")).EnumerateArray().Select(s => s.GetProperty("name").GetString()!).ToArray();
}
