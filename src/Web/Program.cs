using DropBoard.Web.Api;
using DropBoard.Web.Components;
using DropBoard.Web.Hub;
using DropBoard.Web.Live;
using DropBoard.Web.Sessions;

var builder = WebApplication.CreateBuilder(args);
// A newcomer's dashboard listens on loopback only; --urls or ASPNETCORE_URLS open it up deliberately.
if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
    builder.WebHost.UseUrls("http://127.0.0.1:5080");

builder.Services.AddRazorComponents().AddInteractiveServerComponents();
builder.Services.ConfigureHttpJsonOptions(o => o.SerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter()));
builder.Services.AddLive();
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
builder.Services.AddSignalR()
    .AddHubOptions<AgentHub>(o => o.MaximumReceiveMessageSize = AgentHub.MaxMessageBytes);

var app = builder.Build();
if (!app.Environment.IsDevelopment())
    app.UseExceptionHandler("/Error", createScopeForErrors: true);
app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
app.UseAntiforgery();
app.UseAgentToken();
app.MapStaticAssets();
app.MapLiveApi();
app.MapSessionApi();
app.MapInvestigationApi();
app.MapHub<AgentHub>(AgentHub.Path);
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
app.Run();
return 0;
