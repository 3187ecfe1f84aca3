using DropBoard.Shared.Contracts;
using DropBoard.Web.Access;
using DropBoard.Web.Api;
using DropBoard.Web.Components;
using DropBoard.Web.Hub;
using DropBoard.Web.Live;
using DropBoard.Web.Metrics;
using DropBoard.Web.Replicas;
using DropBoard.Web.Sessions;

if (AccessCommands.Handles(args))
    return AccessCommands.Run(args, new ConfigurationBuilder().AddJsonFile("appsettings.json", optional: true).AddEnvironmentVariables().Build());

var builder = WebApplication.CreateBuilder(args);
// A newcomer's dashboard listens on loopback only; --urls or ASPNETCORE_URLS open it up deliberately.
if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
    builder.WebHost.UseUrls("http://127.0.0.1:5080");

builder.Services.AddRazorComponents().AddInteractiveServerComponents();
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
if (builder.Services.AddLive(builder.Configuration) is { } liveProblem)
{
    Console.Error.WriteLine($"dropboard: {liveProblem}");
    return 2;
}
builder.Services.AddScoped<DropBoard.Web.Clock.ViewerClock>();
builder.Services.AddPrometheusMetrics();
builder.Services.AddAccess(builder.Configuration);
if (builder.Services.AddTrustedProxies(builder.Configuration) is { } proxiesProblem)
{
    Console.Error.WriteLine($"dropboard: {proxiesProblem}");
    return 2;
}
try
{
    builder.Services.AddSessions(builder.Configuration);
}
catch (SessionDatabaseException e)
{
    // Nothing is served on a database we cannot trust; the file stays as it is.
    Console.Error.WriteLine($"dropboard: {e.Message}");
    return 2;
}
// Only the agent hub takes big messages: a batch of a drop storm. Blazor's own circuit keeps its small limit.
var signalR = builder.Services.AddSignalR()
    .AddHubOptions<AgentHub>(o => o.MaximumReceiveMessageSize = AgentHubContract.MaxMessageBytes)
    .AddJsonProtocol(o =>
    {
        o.PayloadSerializerOptions.Converters.Add(new IncomingConverter<AgentHello>());
        o.PayloadSerializerOptions.Converters.Add(new IncomingConverter<AgentBatch>());
        o.PayloadSerializerOptions.Converters.Add(new IncomingConverter<byte[]>());
    });
if (signalR.AddReplicas(builder.Configuration) is { } replicasProblem)
{
    Console.Error.WriteLine($"dropboard: {replicasProblem}");
    return 2;
}

var app = builder.Build();
app.UseTrustedProxies();
if (!app.Environment.IsDevelopment())
    app.UseExceptionHandler("/Error", createScopeForErrors: true);
app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
// Pages only: a refused form post or an API status must not be re-executed as a page (that reads the form again).
app.Use((context, next) =>
{
    if (!HttpMethods.IsGet(context.Request.Method) || AccessServices.IsMachinePath(context.Request.Path))
        context.Features.Get<Microsoft.AspNetCore.Diagnostics.IStatusCodePagesFeature>()?.Enabled = false;
    return next(context);
});
app.UseSecurityHeaders();
app.UseAccess();
// The sign-in page needs its styles and scripts before anyone has signed in; they hold nothing of a host.
app.MapStaticAssets().AllowAnonymous();
app.MapAccountEndpoints();
app.MapLiveApi();
app.MapSessionApi();
app.MapInvestigationApi();
app.MapPrometheusMetrics();
app.MapHub<AgentHub>(AgentHubContract.Path);
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
await app.StartAsync();
// Open or sign-in depends on where the server really listens (--urls, ASPNETCORE_URLS, HTTP_PORTS, Kestrel settings).
var mode = app.Services.GetRequiredService<AccessMode>();
mode.Bound(app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
    .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses);
if (mode.Refusal() is { } refusal)
{
    Console.Error.WriteLine($"dropboard: refusing to serve: {refusal}");
    await app.StopAsync();
    return 2;
}
if (mode.IsOpen)
    app.Logger.LogInformation("Open access on {Addresses}: loopback only and no user, so whoever reaches this port is the local admin; 'users add NAME --role admin' turns on sign-in", string.Join(", ", mode.Addresses));
else
    app.Logger.LogInformation("Sign-in required on {Addresses}", string.Join(", ", mode.Addresses));
await app.WaitForShutdownAsync();
return 0;
