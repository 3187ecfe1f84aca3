using DropBoard.Web.Live;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.SignalR;
using StackExchange.Redis;

namespace DropBoard.Web.Replicas;

public static class ReplicaServices
{
    public static readonly RedisKey DataProtectionKeys = "dropboard:data-protection-keys";

    /// <summary>
    /// With <c>DropBoard:Redis</c> (a StackExchange.Redis configuration string): SignalR's Redis backplane and the live
    /// bus between replicas. Without it nothing changes. Redis being away at the start is no reason not to serve: the
    /// connection is retried in the background and said in the log.
    /// </summary>
    /// <returns>Why the setting cannot be used, or null.</returns>
    public static string? AddReplicas(this ISignalRServerBuilder signalR, IConfiguration configuration)
    {
        if (configuration["DropBoard:Redis"] is not { Length: > 0 } text) return null;
        ConfigurationOptions options;
        try
        {
            options = ConfigurationOptions.Parse(text);
        }
        catch (ArgumentException e)
        {
            return $"DropBoard:Redis is not a StackExchange.Redis configuration string ({e.Message}); write it as host:port[,password=...][,ssl=true]";
        }
        if (options.EndPoints.Count == 0) return "DropBoard:Redis names no server; write it as host:port[,password=...][,ssl=true]";
        options.AbortOnConnectFail = false;
        // Replicas and their Redis are neighbours: back within seconds of Redis, not the client's default of up to a minute.
        options.ReconnectRetryPolicy = new ExponentialRetry(500, 5000);
        var redis = ConnectionMultiplexer.Connect(options);
        var services = signalR.Services;
        services.AddSingleton<IConnectionMultiplexer>(redis);
        signalR.AddStackExchangeRedis(o =>
        {
            o.Configuration = options;
            o.ConnectionFactory = _ => Task.FromResult<IConnectionMultiplexer>(redis);
        });
        // A sign-in cookie (and an antiforgery token) made by one replica must open the others: one key ring in Redis,
        // under one application name whatever directory each replica runs from.
        services.AddDataProtection().SetApplicationName("DropBoard").PersistKeysToStackExchangeRedis(redis, DataProtectionKeys);
        services.AddSingleton<Replica>();
        services.AddSingleton<ReplicaBatches>();
        services.AddSingleton<IBatchListener>(sp => sp.GetRequiredService<ReplicaBatches>());
        services.AddSingleton<IAgentPresence>(sp => sp.GetRequiredService<ReplicaBatches>());
        services.AddHostedService<ReplicaBus>();
        services.AddHostedService<RedisConnectionLog>();
        return null;
    }

    /// <summary>Says in the log when the connection to Redis is lost and when it is back, without the password.</summary>
    private sealed class RedisConnectionLog(IConnectionMultiplexer redis, ILogger<Replica> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken)
        {
            redis.ConnectionFailed += Failed;
            redis.ConnectionRestored += Restored;
            if (!redis.IsConnected)
                logger.LogError("Not connected to Redis at {Redis} yet: live pages show only this replica's agents until it is; retrying",
                    string.Join(", ", redis.GetEndPoints().Select(e => e.ToString())));
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            redis.ConnectionFailed -= Failed;
            redis.ConnectionRestored -= Restored;
            return Task.CompletedTask;
        }

        private void Failed(object? sender, ConnectionFailedEventArgs e) =>
            logger.LogError("Lost Redis at {EndPoint} ({Failure}): live pages show only this replica's agents until it is back", e.EndPoint, e.FailureType);

        private void Restored(object? sender, ConnectionFailedEventArgs e) =>
            logger.LogWarning("Redis at {EndPoint} is back", e.EndPoint);
    }
}
