using System.Net;
using System.Text;
using System.Web;
using DropBoard.TestKit;

namespace DropBoard.Web.Tests.Access;

/// <summary>
/// OpenID Connect as configured by a team: no identity provider can run here, so a loopback listener serves the
/// provider's discovery document (the one real thing the dashboard reads before sending a browser there), and
/// the test checks where the browser is sent and that the start needs no local user.
/// </summary>
public sealed class OidcTests
{
    [Fact]
    public async Task With_a_provider_configured_the_dashboard_starts_off_loopback_without_users_and_sends_sign_in_to_the_provider()
    {
        using var provider = new HttpListener();
        var providerPort = WebAppProcess.FreePort();
        var authority = $"http://127.0.0.1:{providerPort}";
        provider.Prefixes.Add($"{authority}/");
        provider.Start();
        _ = ServeDiscoveryAsync(provider, authority);

        var port = WebAppProcess.FreePort();
        await using var app = await WebAppProcess.StartAsync(port, $"urls=http://0.0.0.0:{port}", "DropBoard:EmbeddedAgent=false",
            $"DropBoard:Oidc:Authority={authority}", "DropBoard:Oidc:ClientId=dropboard-test", "DropBoard:Oidc:ClientSecret=not-used-here");
        using var http = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = app.BaseAddress };

        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("api/hosts")).StatusCode);
        Assert.Contains("/account/oidc?returnUrl=%2Fsessions", await http.GetStringAsync("account/login?ReturnUrl=%2Fsessions"));
        var challenge = await http.GetAsync("account/oidc?returnUrl=%2Fsessions");

        Assert.Equal(HttpStatusCode.Redirect, challenge.StatusCode);
        var to = challenge.Headers.Location!;
        Assert.Equal($"{authority}/authorize", to.GetLeftPart(UriPartial.Path));
        var query = HttpUtility.ParseQueryString(to.Query);
        Assert.Equal("dropboard-test", query["client_id"]);
        Assert.Equal("code", query["response_type"]);
        Assert.Equal($"http://127.0.0.1:{port}/account/oidc/callback", query["redirect_uri"]);
        Assert.Contains("openid", query["scope"]);
        // Without OpenID Connect the link is not offered and the address leads to the sign-in page like any unknown one.
        await using var plain = await WebAppProcess.StartAsync("DropBoard:EmbeddedAgent=false", "DropBoard:RequireSignIn=true");
        using var plainHttp = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = plain.BaseAddress };
        Assert.DoesNotContain("/account/oidc", await plainHttp.GetStringAsync("account/login"));
        var none = await plainHttp.GetAsync("account/oidc");
        Assert.Equal(HttpStatusCode.Redirect, none.StatusCode);
        Assert.Equal(plain.BaseAddress.Authority, none.Headers.Location!.Authority);
        Assert.StartsWith("/account/login", none.Headers.Location.AbsolutePath);
    }

    private static async Task ServeDiscoveryAsync(HttpListener listener, string authority)
    {
        var discovery = $$"""
            {"issuer":"{{authority}}","authorization_endpoint":"{{authority}}/authorize","token_endpoint":"{{authority}}/token",
             "jwks_uri":"{{authority}}/jwks","response_types_supported":["code"],"subject_types_supported":["public"],
             "id_token_signing_alg_values_supported":["RS256"]}
            """;
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await listener.GetContextAsync();
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
            {
                return;
            }
            var body = Encoding.UTF8.GetBytes(context.Request.Url!.AbsolutePath switch
            {
                "/.well-known/openid-configuration" => discovery,
                "/jwks" => """{"keys":[]}""",
                _ => "{}",
            });
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(body);
            context.Response.Close();
        }
    }
}
