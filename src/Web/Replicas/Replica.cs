using System.Text.Json;
using System.Text.Json.Serialization;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Sessions;
using StackExchange.Redis;

namespace DropBoard.Web.Replicas;

/// <summary>
/// What one replica tells the others on the live bus: a batch it took (<see cref="Hello"/> and <see cref="Batch"/>), a
/// change to a session in the shared database (<see cref="Session"/>), or the end of an agent's connection (<see cref="Disconnected"/>).
/// </summary>
/// <param name="From">The replica that sent it: a replica hears its own messages too, and skips them.</param>
public sealed record BusMessage(string From, AgentHello? Hello = null, AgentBatch? Batch = null, long SessionId = 0, SessionChangeKind? Session = null,
    string? Disconnected = null);

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, UseStringEnumConverter = true)]
[JsonSerializable(typeof(BusMessage))]
internal sealed partial class BusJson : JsonSerializerContext;

/// <summary>
/// This dashboard process as one of several replicas sharing a Redis server (<c>DropBoard:Redis</c>) and one database.
/// The bus is Redis publish/subscribe: what is published while a replica is cut off from Redis does not reach it, so its
/// live pages miss those batches; recording is unaffected (every replica writes to the one database).
/// </summary>
public sealed class Replica(IConnectionMultiplexer redis, ILogger<Replica> logger)
{
    /// <summary>The one bus channel: batches and session changes in the order a replica sent them. Prefixed by the configuration's <c>channelPrefix</c>.</summary>
    public static readonly RedisChannel Channel = RedisChannel.Literal("dropboard:live");

    private int _failing;

    public string Id { get; } = Guid.NewGuid().ToString("n");

    public IConnectionMultiplexer Redis => redis;

    /// <summary>Sends without waiting for Redis: the batch is taken already, whatever the bus does with it.</summary>
    public void Publish(BusMessage message)
    {
        try
        {
            redis.GetSubscriber().Publish(Channel, JsonSerializer.SerializeToUtf8Bytes(message, BusJson.Default.BusMessage), CommandFlags.FireAndForget);
            if (Interlocked.Exchange(ref _failing, 0) == 1)
                logger.LogWarning("Publishing on the live bus again");
        }
        catch (RedisException e)
        {
            // Said once per outage, not per batch.
            if (Interlocked.Exchange(ref _failing, 1) == 0)
                logger.LogError("Cannot publish on the live bus ({Why}): other replicas' live pages miss this replica's batches until Redis is back", e.Message);
        }
    }
}
