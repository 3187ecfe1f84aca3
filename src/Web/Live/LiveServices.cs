using System.Globalization;

namespace DropBoard.Web.Live;

public static class LiveServices
{
    /// <summary>The live store, the batch door and the embedded local agent.</summary>
    /// <returns>Why a live setting cannot be used, or null.</returns>
    public static string? AddLive(this IServiceCollection services, IConfiguration configuration)
    {
        var fineBudget = LiveStore.DefaultFineBudget;
        if (configuration["DropBoard:LiveFineBuckets"] is { Length: > 0 } text
            && (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out fineBudget) || fineBudget is < LiveStore.MinFineBudget or > LiveStore.MaxFineBudget))
            return $"DropBoard:LiveFineBuckets is {text}; it is a whole number from {LiveStore.MinFineBudget} to {LiveStore.MaxFineBudget} (24 bytes each, twice: drops and counter rises)";
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(sp => new LiveStore(sp.GetRequiredService<TimeProvider>(), fineBudget));
        services.AddSingleton<IBatchListener>(sp => sp.GetRequiredService<LiveStore>());
        services.AddSingleton<IAgentPresence>(sp => sp.GetRequiredService<LiveStore>());
        services.AddSingleton<LiveFlows>();
        services.AddSingleton<IBatchListener>(sp => sp.GetRequiredService<LiveFlows>());
        services.AddSingleton<LivePaths>();
        services.AddSingleton<IBatchListener>(sp => sp.GetRequiredService<LivePaths>());
        services.AddSingleton<BatchIngest>();
        services.AddSingleton<EmbeddedAgent>();
        services.AddHostedService(sp => sp.GetRequiredService<EmbeddedAgent>());
        return null;
    }
}
