using DropBoard.Web.Investigations;

namespace DropBoard.Web.Sessions;

public static class SessionServices
{
    /// <summary>
    /// The session database (opened now, so a locked or damaged file stops the start with its reason), the
    /// store, queries, recorder, retention and investigations.
    /// </summary>
    /// <exception cref="SessionDatabaseException">The configured file cannot be used.</exception>
    public static IServiceCollection AddSessions(this IServiceCollection services, IConfiguration configuration)
    {
        var database = SessionDatabase.Open(configuration["DropBoard:Database"] ?? Path.Combine("data", "dropboard.db"));
        services.AddSingleton(database);
        services.AddSingleton(new SessionLimits(configuration.GetValue("DropBoard:MaxRecordingSessions", new SessionLimits().MaxRecording)));
        services.AddSingleton<SessionStore>();
        services.AddSingleton<SessionQueries>();
        services.AddSingleton<SessionWriter>();
        services.AddHostedService(sp => sp.GetRequiredService<SessionWriter>());
        services.AddSingleton<SessionRecorder>();
        services.AddSingleton(RetentionSettings.From(configuration));
        services.AddHostedService<SessionRetention>();
        services.AddSingleton<SessionImporter>();
        services.AddSingleton<InvestigationStore>();
        services.AddHostedService<SessionStartup>();
        return services;
    }

    /// <summary>Sessions that were recording when the dashboard stopped go on, with the downtime marked as a gap.</summary>
    private sealed class SessionStartup(SessionStore store, ILogger<SessionStartup> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            var resumed = store.MarkRestartGaps();
            if (resumed > 0) logger.LogInformation("Resumed {Count} recording sessions; the restart is marked as a gap", resumed);
            logger.LogInformation("Sessions in {Path}", store.Database.Path);
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
