using System.Text.Json;
using DropBoard.Web.Live;
using DropBoard.Web.Sessions;
using StackExchange.Redis;

namespace DropBoard.Web.Replicas;

/// <summary>
/// Listens on the live bus: a batch another replica took is marked taken here too (so a resend after its agent fails
/// over to this replica is a repeat) and shown on this replica's live pages; a session another replica started,
/// stopped or wrote to is told to this replica's recorder and pages; a host whose agent left another replica is shown
/// disconnected until its next batch. Passes this replica's own session changes on.
/// </summary>
public sealed class ReplicaBus(Replica replica, BatchIngest ingest, LiveStore live, SessionStore sessions, SessionWriter writer, ILogger<ReplicaBus> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        sessions.Changed += Tell;
        ChannelMessageQueue? queue = null;
        try
        {
            // Redis may be away when the replica starts: it serves meanwhile, and subscribes once Redis answers.
            // Once subscribed, the client subscribes again by itself after a reconnect.
            while (queue is null)
            {
                try
                {
                    queue = await replica.Redis.GetSubscriber().SubscribeAsync(Replica.Channel);
                }
                catch (RedisException)
                {
                    await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
                }
            }
            // One message after the other, in the order they were published.
            queue.OnMessage(message => ReceiveAsync(message, stoppingToken));
            logger.LogInformation("Replica {Replica} on the live bus at {Redis}", replica.Id, string.Join(", ", replica.Redis.GetEndPoints().Select(e => e.ToString())));
            await Task.Delay(Timeout.Infinite, stoppingToken);
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            sessions.Changed -= Tell;
            if (queue is not null) await queue.UnsubscribeAsync();
        }
    }

    private void Tell(SessionChange change)
    {
        if (!change.Elsewhere) replica.Publish(new BusMessage(replica.Id, SessionId: change.Id, Session: change.Kind));
    }

    private async Task ReceiveAsync(ChannelMessage message, CancellationToken cancellationToken)
    {
        try
        {
            var bus = JsonSerializer.Deserialize((byte[])message.Message!, BusJson.Default.BusMessage);
            if (bus is null || bus.From == replica.Id) return;
            if (bus is { Hello: { } hello, Batch: { } batch })
            {
                writer.StoredElsewhere(hello, batch.Sequence);
                if (ingest.TakenElsewhere(hello, batch.Sequence))
                    await live.OnBatchAsync(hello, batch, cancellationToken);
            }
            else if (bus.Session is { } kind)
                sessions.Relay(bus.SessionId, kind);
            else if (bus.Disconnected is { } hostId)
                live.Disconnected(hostId);
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidCastException)
        {
            logger.LogWarning("Ignored a message on the live bus that is not a replica's: {Why}", e.Message);
        }
    }
}
