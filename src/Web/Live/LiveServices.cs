namespace DropBoard.Web.Live;

public static class LiveServices
{
    /// <summary>The live store, the batch door and the embedded local agent.</summary>
    public static IServiceCollection AddLive(this IServiceCollection services, IConfiguration configuration)
    {
        var fineBudget = Math.Max(LiveStore.MinFineBudget, configuration.GetValue("DropBoard:LiveFineBuckets", LiveStore.DefaultFineBudget));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new LiveStore(sp.GetRequiredService<TimeProvider>(), fineBudget));
        services.AddSingleton<IBatchListener>(sp => sp.GetRequiredService<LiveStore>());
        services.AddSingleton<IAgentPresence>(sp => sp.GetRequiredService<LiveStore>());
        services.AddSingleton<LiveFlows>();
        services.AddSingleton<IBatchListener>(sp => sp.GetRequiredService<LiveFlows>());
        services.AddSingleton<BatchIngest>();
        services.AddSingleton<EmbeddedAgent>();
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedAgent>());
        return services;
    }
}
