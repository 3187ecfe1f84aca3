namespace DropBoard.Web.Sessions;

/// <summary>
/// How long recorded drops are kept at each resolution (<c>DropBoard:Retention</c>): 10 ms buckets for
/// <paramref name="BucketDays"/>, then per second until <paramref name="SecondDays"/>, then per minute for as long as the
/// session is kept.
/// </summary>
public sealed record RetentionSettings(int BucketDays = 7, int SecondDays = 90)
{
    public static RetentionSettings From(IConfiguration configuration)
    {
        var section = configuration.GetSection("DropBoard:Retention");
        var settings = new RetentionSettings(section.GetValue("BucketDays", 7), section.GetValue("SecondDays", 90));
        if (settings.BucketDays < 1 || settings.SecondDays < settings.BucketDays)
            throw new SessionDatabaseException($"DropBoard:Retention: BucketDays ({settings.BucketDays}) is at least 1 and SecondDays ({settings.SecondDays}) at least BucketDays");
        return settings;
    }

    /// <summary>Before when, at <paramref name="nowMs"/>, 10 ms rows (a whole second) and per-second rows (a whole minute) go.</summary>
    public (long BucketsBeforeMs, long SecondsBeforeMs) Cuts(long nowMs) =>
        (Rollup.Floor(nowMs - BucketDays * 86_400_000L, Rollup.SecondMs) * Rollup.SecondMs,
         Rollup.Floor(nowMs - SecondDays * 86_400_000L, Rollup.MinuteMs) * Rollup.MinuteMs);
}

/// <summary>Thins out old drops as <see cref="RetentionSettings"/> say, at start and every hour.</summary>
public sealed class SessionRetention(SessionStore store, RetentionSettings settings, TimeProvider clock, ILogger<SessionRetention> logger) : BackgroundService
{
    private static readonly TimeSpan Every = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Off the start-up path: a first pass over a large file takes a while.
        await Task.Yield();
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var (buckets, seconds) = settings.Cuts(clock.GetUtcNow().ToUnixTimeMilliseconds());
                var removed = await Task.Run(() => store.Thin(buckets, seconds, stoppingToken), stoppingToken);
                if (removed > 0)
                    logger.LogInformation("Retention: {Rows} rows thinned out (10 ms rows before {Buckets:u}, per-second rows before {Seconds:u}; their sums stay)",
                        removed, DateTimeOffset.FromUnixTimeMilliseconds(buckets), DateTimeOffset.FromUnixTimeMilliseconds(seconds));
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (System.Data.Common.DbException e)
            {
                logger.LogWarning("Retention could not thin out {Path} ({Error}); trying again in an hour", store.Database.Path, e.Message);
            }
            try
            {
                await Task.Delay(Every, clock, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }
}
