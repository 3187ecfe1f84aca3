using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using DropBoard.TestKit;
using DropBoard.Web.Tests.Sessions;
using static DropBoard.Web.Tests.Hub.AgentHubClient;

namespace DropBoard.Web.Tests.Access;

/// <summary>
/// Sign-in, roles, API tokens and the browser-request guard, against the real web process: users and tokens are
/// made with the program's own admin commands, as an operator would, and every refusal must be logged.
/// </summary>
public sealed class AccessTests
{
    [Fact]
    public async Task Off_loopback_with_no_user_the_start_is_refused_naming_the_command_that_makes_the_first_admin()
    {
        var (code, output) = await WebAppProcess.RunUntilExitAsync($"urls=http://0.0.0.0:{WebAppProcess.FreePort()}", "DropBoard:EmbeddedAgent=false");

        Assert.Equal(2, code);
        Assert.Contains("not only loopback", output);
        Assert.Contains("users add NAME --role admin", output);
    }

    [Fact]
    public async Task Off_loopback_with_an_admin_every_page_and_api_needs_sign_in()
    {
        var db = WebAppProcess.NewDatabasePath();
        WebAppProcess.NewSecret(db, "users", "add", "ada", "--role", "admin");
        var port = WebAppProcess.FreePort();
        await using var app = await WebAppProcess.StartAsync(port, $"DropBoard:Database={db}", $"urls=http://0.0.0.0:{port}", "DropBoard:EmbeddedAgent=false");
        using var http = NoRedirects(app);

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("api/hosts")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("api/sessions")).StatusCode);
        var page = await http.GetAsync("sessions");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        Assert.StartsWith("/account/login", page.Headers.Location!.PathAndQuery);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("account/login")).StatusCode);
        await WaitForLogAsync(app, "Refused GET /api/hosts from 127.0.0.1 for anonymous: not signed in");
    }

    [Fact]
    public async Task The_zero_configuration_loopback_start_stays_open_and_says_so()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");

        Assert.Equal(HttpStatusCode.OK, (await app.Http.GetAsync("api/hosts")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await app.Http.PostAsJsonAsync("api/sessions", new { name = "open start" })).StatusCode);
        var page = await app.Http.GetStringAsync("sessions");
        Assert.Contains("open-notice", page);
        Assert.Contains("users add NAME --role admin", page);
    }

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task Api_tokens_carry_their_role_and_a_revoked_token_is_refused_within_seconds(string engine)
    {
        var db = await StoreEngines.NewDatabaseAsync(engine);
        var viewer = WebAppProcess.NewSecret(db, "tokens", "add", "grafana", "--role", "viewer");
        var editor = WebAppProcess.NewSecret(db, "tokens", "add", "ci", "--role", "editor");
        // Names are one whatever their case, in either engine.
        var (code, _, error) = WebAppProcess.Admin(db, "tokens", "add", "CI", "--role", "admin");
        Assert.Equal((1, "dropboard: a token named 'CI' exists already"), (code, error.Trim()));
        await using var app = await StartSignedInAsync(db);

        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(app, HttpMethod.Get, "api/sessions", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Send(app, HttpMethod.Get, "api/sessions", "dbt_not-a-token")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(app, HttpMethod.Get, "api/sessions", viewer)).StatusCode);

        Assert.Equal(HttpStatusCode.Forbidden, (await Send(app, HttpMethod.Post, "api/sessions", viewer, new { name = "by a viewer" })).StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(app, HttpMethod.Post, "api/import?format=dropwatch", viewer, "1 drops at x+0x1\n")).StatusCode);
        var created = await Send(app, HttpMethod.Post, "api/sessions", editor, new { name = "by the CI" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        Assert.Equal(HttpStatusCode.Forbidden, (await Send(app, HttpMethod.Post, $"api/sessions/{id}/stop", viewer)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Send(app, HttpMethod.Post, $"api/sessions/{id}/stop", editor)).StatusCode);
        var sessions = await (await Send(app, HttpMethod.Get, "api/sessions", viewer)).Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["by the CI"], sessions.EnumerateArray().Select(s => s.GetProperty("name").GetString()));
        await WaitForLogAsync(app, "Refused POST /api/sessions from 127.0.0.1 for api-token 'grafana': needs the editor role");

        // Revoked by the admin command while the app runs: refused within the credential cache's few seconds.
        Assert.Equal(0, WebAppProcess.Admin(db, "tokens", "revoke", "ci").ExitCode);
        var refusedAfter = await SecondsUntilAsync(async () => (await Send(app, HttpMethod.Get, "api/sessions", editor)).StatusCode == HttpStatusCode.Unauthorized);
        Assert.True(refusedAfter <= 5, $"the revoked token still worked after {refusedAfter:0.0} s");
        Assert.Equal(HttpStatusCode.OK, (await Send(app, HttpMethod.Get, "api/sessions", viewer)).StatusCode);
        await WaitForLogAsync(app, "Refused GET /api/sessions from 127.0.0.1 for anonymous: wrong token");
    }

    [Fact]
    public async Task A_write_from_a_foreign_page_is_refused_without_the_antiforgery_token_and_nothing_is_stored()
    {
        // The open loopback mode is exactly where a drive-by page could post to 127.0.0.1 on the user's behalf.
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false");

        var json = Request(HttpMethod.Post, "api/sessions", null, new { name = "forged" });
        json.Headers.Add("Origin", "http://attacker.example");
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Http.SendAsync(json)).StatusCode);
        // A form-like text/plain body needs no CORS preflight: the classic CSRF import.
        var form = new HttpRequestMessage(HttpMethod.Post, "api/import?format=dropwatch&name=forged")
        {
            Content = new StringContent("174 drops at udp_queue_rcv_skb+218 (0xffffffff8155c5e8)\n", Encoding.UTF8, "text/plain"),
        };
        form.Headers.Add("Sec-Fetch-Site", "cross-site");
        Assert.Equal(HttpStatusCode.Forbidden, (await app.Http.SendAsync(form)).StatusCode);

        Assert.Empty((await app.Http.GetFromJsonAsync<JsonElement>("api/sessions")).EnumerateArray());
        await WaitForLogAsync(app, "a browser request without the antiforgery token (origin http://attacker.example)");
    }

    [Fact]
    public async Task Unknown_permalinks_and_sessions_are_404_pages_for_a_signed_in_viewer()
    {
        var db = WebAppProcess.NewDatabasePath();
        var password = WebAppProcess.NewSecret(db, "users", "add", "vera", "--role", "viewer");
        await using var app = await StartSignedInAsync(db);
        using var browser = await SignInAsync(app, "vera", password);

        var slug = await browser.GetAsync("i/AAAAAAAAAAAAAAAAAAAAAA");
        Assert.Equal(HttpStatusCode.NotFound, slug.StatusCode);
        Assert.Contains("Not Found", await slug.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.NotFound, (await browser.GetAsync("sessions/999")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("sessions")).StatusCode);
        // A viewer's page is no admin's.
        var admin = await browser.GetAsync("admin");
        Assert.Equal(HttpStatusCode.Redirect, admin.StatusCode);
        Assert.StartsWith("/account/denied", admin.Headers.Location!.PathAndQuery);
    }

    [Fact]
    public async Task Sign_in_refuses_a_wrong_password_and_is_rate_limited_per_address()
    {
        var db = WebAppProcess.NewDatabasePath();
        var password = WebAppProcess.NewSecret(db, "users", "add", "ed", "--role", "editor");
        await using var app = await StartSignedInAsync(db, "DropBoard:SignInsPerMinute=4");

        var (http, form) = await SignInFormAsync(app);
        using var _ = http;
        var wrong = await http.PostAsync("account/signin", Form(form, "ed", "not-the-password"));
        Assert.Equal(HttpStatusCode.Redirect, wrong.StatusCode);
        Assert.Contains("failed=1", wrong.Headers.Location!.ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("api/sessions")).StatusCode);
        await WaitForLogAsync(app, "Refused sign-in for ed from 127.0.0.1: unknown user or wrong password");

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 4; i++) statuses.Add((await http.PostAsync("account/signin", Form(form, "ed", $"guess-{i}"))).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, statuses[^1]);
        Assert.Equal(3, statuses.Count(s => s == HttpStatusCode.Redirect));
        // Even the right password waits out the window.
        Assert.Equal(HttpStatusCode.TooManyRequests, (await http.PostAsync("account/signin", Form(form, "ed", password))).StatusCode);
    }

    [Theory]
    [MemberData(nameof(StoreEngines.All), MemberType = typeof(StoreEngines))]
    public async Task A_removed_user_loses_a_signed_in_session_within_seconds(string engine)
    {
        var db = await StoreEngines.NewDatabaseAsync(engine);
        var password = WebAppProcess.NewSecret(db, "users", "add", "temp", "--role", "editor");
        await using var app = await StartSignedInAsync(db);
        using var browser = await SignInAsync(app, "temp", password);
        Assert.Equal(HttpStatusCode.OK, (await browser.GetAsync("api/sessions")).StatusCode);

        Assert.Equal(0, WebAppProcess.Admin(db, "users", "remove", "temp").ExitCode);

        Assert.Equal(HttpStatusCode.Unauthorized, (await browser.GetAsync("api/sessions")).StatusCode);
    }

    [Fact]
    public async Task Recording_sessions_are_capped_and_names_are_bounded()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false", "DropBoard:MaxRecordingSessions=2");

        Assert.Equal(HttpStatusCode.Created, (await app.Http.PostAsJsonAsync("api/sessions", new { name = "one" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await app.Http.PostAsJsonAsync("api/sessions", new { name = "two" })).StatusCode);
        var third = await app.Http.PostAsJsonAsync("api/sessions", new { name = "three" });
        Assert.Equal(HttpStatusCode.BadRequest, third.StatusCode);
        Assert.Contains("DropBoard:MaxRecordingSessions", await third.Content.ReadAsStringAsync());
        await app.Http.PostAsync("api/sessions/1/stop", null);
        Assert.Equal(HttpStatusCode.BadRequest, (await app.Http.PostAsJsonAsync("api/sessions", new { name = new string('x', 201) })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await app.Http.PostAsJsonAsync("api/sessions", new { name = "line\nbreak" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await app.Http.PostAsJsonAsync("api/sessions", new { name = "three" })).StatusCode);
    }

    [Fact]
    public async Task Requests_for_another_host_name_are_refused_when_AllowedHosts_is_set()
    {
        await using var app = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false", "AllowedHosts=127.0.0.1");
        var foreign = new HttpRequestMessage(HttpMethod.Get, "api/hosts");
        foreign.Headers.Host = "dashboard.attacker.example";

        Assert.Equal(HttpStatusCode.BadRequest, (await app.Http.SendAsync(foreign)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.Http.GetAsync("api/hosts")).StatusCode);
    }

    [Fact]
    public async Task Forwarded_client_addresses_and_scheme_are_believed_only_from_the_trusted_proxies()
    {
        var db = WebAppProcess.NewDatabasePath();
        var password = WebAppProcess.NewSecret(db, "users", "add", "ed", "--role", "editor");
        await using var behind = await StartSignedInAsync(db, "DropBoard:TrustedProxies=127.0.0.1", "DropBoard:SignInsPerMinute=2");
        var (http, form) = await SignInFormAsync(behind);
        using var _ = http;

        // The sign-in limit is per client behind the proxy: one client spending its budget leaves the next one its own.
        Assert.Equal(HttpStatusCode.Redirect, (await SignInFrom(http, "203.0.113.7", form, "wrong")).StatusCode);
        await WaitForLogAsync(behind, "Refused sign-in for ed from 203.0.113.7: unknown user or wrong password");
        Assert.Equal(HttpStatusCode.Redirect, (await SignInFrom(http, "203.0.113.7", form, "wrong")).StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await SignInFrom(http, "203.0.113.7", form, password)).StatusCode);
        var other = await SignInFrom(http, "203.0.113.8", form, password, proto: "https");
        Assert.Equal(HttpStatusCode.Redirect, other.StatusCode);
        Assert.Contains("/sessions", other.Headers.Location!.ToString());
        // Reached over https at the proxy: the sign-in cookie is sent back only over https.
        Assert.Contains(other.Headers.GetValues("Set-Cookie"), c => c.StartsWith("dropboard=", StringComparison.Ordinal) && c.Contains("secure", StringComparison.OrdinalIgnoreCase));
        await WaitForLogAsync(behind, "ed signed in from 203.0.113.8");

        // Without the setting anyone could claim any address: the header is ignored and the connection's address counts.
        await using var direct = await StartSignedInAsync(db);
        var (plain, plainForm) = await SignInFormAsync(direct);
        using var __ = plain;
        Assert.Equal(HttpStatusCode.Redirect, (await SignInFrom(plain, "203.0.113.9", plainForm, "wrong")).StatusCode);
        await WaitForLogAsync(direct, "Refused sign-in for ed from 127.0.0.1: unknown user or wrong password");
        Assert.DoesNotContain("203.0.113.9", direct.Log);
    }

    [Theory]
    [InlineData("proxy.example", "'proxy.example' is neither an address nor a network")]
    [InlineData("10.0.0.0/33", "'10.0.0.0/33' is neither an address nor a network")]
    public async Task A_trusted_proxy_that_is_no_address_stops_the_start_saying_how_to_write_it(string value, string expected)
    {
        var (code, output) = await WebAppProcess.RunUntilExitAsync("DropBoard:EmbeddedAgent=false", $"DropBoard:TrustedProxies=127.0.0.1,{value}");

        Assert.Equal(2, code);
        Assert.Contains($"DropBoard:TrustedProxies: {expected}; write it as 10.0.0.5,10.1.0.0/16,fd00::/8", output);
    }

    private static Task<HttpResponseMessage> SignInFrom(HttpClient http, string client, string antiforgery, string password, string proto = "http")
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "account/signin") { Content = Form(antiforgery, "ed", password) };
        request.Headers.Add("X-Forwarded-For", client);
        request.Headers.Add("X-Forwarded-Proto", proto);
        return http.SendAsync(request);
    }

    internal static Task<WebAppProcess> StartSignedInAsync(string db, params string[] more) =>
        WebAppProcess.StartAsync([$"DropBoard:Database={db}", "DropBoard:RequireSignIn=true", "DropBoard:EmbeddedAgent=false", .. more]);

    private static HttpClient NoRedirects(WebAppProcess app) =>
        new(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true }) { BaseAddress = app.BaseAddress };

    /// <summary>A cookie-keeping client at the sign-in page, and the antiforgery field of its form.</summary>
    private static async Task<(HttpClient Http, string Antiforgery)> SignInFormAsync(WebAppProcess app)
    {
        var http = NoRedirects(app);
        var page = await http.GetStringAsync("account/login");
        var match = System.Text.RegularExpressions.Regex.Match(page, "name=\"__RequestVerificationToken\" value=\"([^\"]+)\"");
        Assert.True(match.Success, $"the sign-in page has no antiforgery field:\n{page}");
        return (http, match.Groups[1].Value);
    }

    private static FormUrlEncodedContent Form(string antiforgery, string name, string password) => new([
        new("__RequestVerificationToken", antiforgery), new("name", name), new("password", password), new("returnUrl", "/sessions")]);

    internal static async Task<HttpClient> SignInAsync(WebAppProcess app, string name, string password)
    {
        var (http, form) = await SignInFormAsync(app);
        var response = await http.PostAsync("account/signin", Form(form, name, password));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/sessions", response.Headers.Location!.ToString());
        return http;
    }

    private static HttpRequestMessage Request(HttpMethod method, string path, string? token, object? body)
    {
        var request = new HttpRequestMessage(method, path);
        if (token is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Content = body switch
        {
            null => null,
            string text => new StringContent(text, Encoding.UTF8, "text/plain"),
            _ => JsonContent.Create(body),
        };
        return request;
    }

    private static Task<HttpResponseMessage> Send(WebAppProcess app, HttpMethod method, string path, string? token, object? body = null) =>
        app.Http.SendAsync(Request(method, path, token, body));

    /// <summary>Seconds until <paramref name="condition"/> holds, polled; fails after 30 s.</summary>
    internal static async Task<double> SecondsUntilAsync(Func<Task<bool>> condition)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (!await condition())
        {
            if (started.Elapsed > TimeSpan.FromSeconds(30)) Assert.Fail("the condition did not hold within 30 s");
            await Task.Delay(100);
        }
        return started.Elapsed.TotalSeconds;
    }
}
