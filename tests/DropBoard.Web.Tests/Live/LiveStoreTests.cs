using DropBoard.Web.Views;
using DropBoard.Shared.Analysis;
using DropBoard.Shared.Contracts;
using DropBoard.Web.Live;
using DropBoard.Web.Sessions.Import;

namespace DropBoard.Web.Tests.Live;

public sealed class LiveStoreTests
{
    private const long Now = 1_800_000_000_000; // ms
    private static readonly AgentHello Hello = new("h1", "host-one", "6.18", "tracepoint", "t", 10, "i");

    private sealed class FixedClock(long ms) : TimeProvider
    {
        public long Ms { get; set; } = ms;
        public override DateTimeOffset GetUtcNow() => DateTimeOffset.FromUnixTimeMilliseconds(Ms);
    }

    [Fact]
    public async Task Sites_sum_per_site_reason_and_protocol_over_the_window_and_filters_narrow_them()
    {
        var store = new LiveStore(new FixedClock(Now));
        await store.OnBatchAsync(Hello, Batch(1,
            Drop("udp_queue_rcv_one_skb", 0x437, "SOCKET_RCVBUFF", Now - 500, 10, 0x0800),
            Drop("udp_queue_rcv_one_skb", 0x437, "SOCKET_RCVBUFF", Now - 1500, 5, 0x0800),
            Drop("udp_queue_rcv_one_skb", 0x437, "SOCKET_RCVBUFF", Now - 1500, 2, 0x86DD),
            Drop("kfree_skb_list", 0x10, "NO_SOCKET", Now - 90_000, 7, 0x0800)), default);

        var minute = store.Sites("h1", TimeSpan.FromMinutes(1));
        Assert.Equal([("udp_queue_rcv_one_skb+0x437", "IPv4", 15L), ("udp_queue_rcv_one_skb+0x437", "IPv6", 2L)],
            minute.Select(s => (s.Site, s.Protocol, s.Count)));
        Assert.Equal(24, store.Sites("h1", TimeSpan.FromMinutes(5)).Sum(s => s.Count));
        Assert.Equal(2, store.Sites("h1", TimeSpan.FromMinutes(5), new DropFilter(Protocol: "IPv6")).Single().Count);
        Assert.Equal(7, store.Sites("h1", TimeSpan.FromMinutes(5), new DropFilter(Reason: "NO_SOCKET")).Single().Count);
        Assert.Equal(17, store.Sites("h1", TimeSpan.FromMinutes(5), new DropFilter(Site: "UDP_QUEUE")).Sum(s => s.Count));
        Assert.Empty(store.Sites("nobody", TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public async Task A_counter_keeps_its_latest_text_and_a_host_keeps_the_most_recently_set_ones_up_to_the_bound()
    {
        var store = new LiveStore(new FixedClock(Now));
        await store.OnBatchAsync(Hello, Batch(1) with { CounterTexts = new Dictionary<string, string> { ["Netfilter.ip.filter.INPUT.5"] = "counter accept" } }, default);
        await store.OnBatchAsync(Hello, Batch(2) with { CounterTexts = new Dictionary<string, string> { ["Netfilter.ip.filter.INPUT.5"] = "counter drop" } }, default);
        Assert.Equal("counter drop", store.CounterTexts("h1")["Netfilter.ip.filter.INPUT.5"]);
        Assert.Empty(store.CounterTexts("nobody"));

        // A ruleset rewritten over and over: past the bound, the texts set longest ago go first.
        var churn = Enumerable.Range(0, ImportLimits.MaxCounterTextsPerHost).ToDictionary(i => $"Netfilter.ip.filter.INPUT.{1000 + i}", _ => "counter drop");
        await store.OnBatchAsync(Hello, Batch(3) with { CounterTexts = new Dictionary<string, string> { ["Netfilter.ip.filter.INPUT.5"] = "counter drop" } }, default);
        await store.OnBatchAsync(Hello, Batch(4) with { CounterTexts = churn }, default);
        var texts = store.CounterTexts("h1");
        Assert.Equal(ImportLimits.MaxCounterTextsPerHost, texts.Count);
        Assert.DoesNotContain("Netfilter.ip.filter.INPUT.5", texts.Keys);
        Assert.Contains($"Netfilter.ip.filter.INPUT.{1000 + ImportLimits.MaxCounterTextsPerHost - 1}", texts.Keys);
    }

    [Fact]
    public async Task Data_older_than_the_ring_is_ignored_and_late_data_inside_it_still_counts()
    {
        var clock = new FixedClock(Now);
        var store = new LiveStore(clock);
        await store.OnBatchAsync(Hello, Batch(1, Drop("f", 1, null, Now, 3)), default);
        // A spool flushed after an outage: one batch from 10 minutes ago (kept), one from an hour ago (gone).
        await store.OnBatchAsync(Hello, Batch(2, Drop("f", 1, null, Now - 600_000, 4), Drop("f", 1, null, Now - 3_600_000, 100)), default);

        Assert.Equal(7, store.Sites("h1", LiveStore.Keep).Sum(s => s.Count));
        clock.Ms += 6 * 60_000;
        Assert.Equal(3, store.Sites("h1", LiveStore.Keep).Sum(s => s.Count));
    }

    [Fact]
    public async Task Drops_over_time_has_one_point_per_second_for_the_top_functions_and_sums_the_rest_as_other()
    {
        var store = new LiveStore(new FixedClock(Now));
        var drops = Enumerable.Range(0, 5).Select(i => Drop($"fn{i}", 1, null, Now - 2000, 10 * (i + 1))).ToArray();
        await store.OnBatchAsync(Hello, Batch(1, [.. drops, Drop("fn4", 1, null, Now, 1)]), default);

        var series = store.DropsOverTime("h1", TimeSpan.FromSeconds(10), top: 2);
        Assert.Equal(10, series.Seconds.Length);
        Assert.Equal(Now / 1000, series.Seconds[^1]);
        Assert.Equal(["fn4", "fn3", TimeSeries.Other], series.Series.Select(s => s.Name));
        Assert.Equal(50, series.Series[0].Values[^3]);
        Assert.Equal(1, series.Series[0].Values[^1]);
        Assert.Equal(10 + 20 + 30, series.Series[2].Values[^3]);
        Assert.Equal(151, series.Series.Sum(s => s.Values.Sum()));
    }

    [Fact]
    public async Task Explain_takes_drops_and_counters_over_the_span_between_two_samples_and_leaves_later_drops_for_the_next()
    {
        var store = new LiveStore(new FixedClock(Now));
        await store.OnBatchAsync(Hello, Batch(1, Drop("f", 1, null, Now - 2500, 7))
            with { SentAtMs = Now - 2000, Counters = [new CounterDelta("Udp.InErrors", 7, Now - 2000)] }, default);
        await store.OnBatchAsync(Hello, Batch(2, Drop("f", 1, null, Now - 1500, 2), Drop("f", 1, null, Now - 1010, 3))
            with { SentAtMs = Now - 1000, Counters = [new CounterDelta("Udp.InErrors", 5, Now - 1000)] }, default);
        // Drops after the last sample, in a later batch: they belong to the next sample's span.
        await store.OnBatchAsync(Hello, Batch(3, Drop("f", 1, null, Now - 500, 4)), default);

        var fine = store.ExplainInput("h1", TimeSpan.FromMinutes(1));
        Assert.Equal(new SampleSpan(Now - 2000, Now - 1000), fine.Span);
        Assert.Equal((5L, 10), (fine.Drops.Sum(d => d.Count), fine.BucketMs));
        Assert.Equal(5, fine.Counters.Single().Delta);
        var coarse = store.ExplainInput("h1", TimeSpan.FromMinutes(10));
        Assert.Equal((5L, 5L, 1000), (coarse.Drops.Sum(d => d.Count), coarse.Counters.Single().Delta, coarse.BucketMs));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    public async Task Drops_and_counters_of_two_namespaces_stay_apart_are_filtered_by_namespace_and_explained_each_by_its_own(int minutes)
    {
        // The bpf source: two namespaces dropped at the same site, each read its own Udp.RcvbufErrors.
        var store = new LiveStore(new FixedClock(Now));
        var site = Drop("udp_queue_rcv_one_skb", 0x437, "SOCKET_RCVBUFF", Now - 2500, 1, 0x0800);
        await store.OnBatchAsync(Hello, Batch(1) with { SentAtMs = Now - 3000, Counters = [new CounterDelta("Udp.InDatagrams", 1, Now - 3000, 11)] }, default);
        await store.OnBatchAsync(Hello, Batch(2, site with { Count = 70, Netns = 11, NetnsName = "blue" }, site with { Count = 30, Netns = 22 })
            with { SentAtMs = Now - 2000, Counters = [new CounterDelta("Udp.RcvbufErrors", 70, Now - 2000, 11), new CounterDelta("Udp.RcvbufErrors", 30, Now - 2000, 22)] }, default);
        await store.OnBatchAsync(Hello, Batch(3), default);

        var sites = store.Sites("h1", TimeSpan.FromMinutes(1));
        Assert.Equal([(70L, 11u, "blue"), (30L, 22u, null)], sites.Select(s => (s.Count, s.Netns, s.NetnsName)));
        Assert.Equal(30, store.Sites("h1", TimeSpan.FromMinutes(1), new DropFilter(Netns: "22")).Single().Count);
        Assert.Equal([new NetnsLabel(11, "blue"), new NetnsLabel(22, null)], store.Namespaces("h1"));
        Assert.Equal([(70L, 11u), (30L, 22u)], store.Counters("h1", TimeSpan.FromMinutes(1)).Where(c => c.Name == "Udp.RcvbufErrors").Select(c => (c.Delta, c.Netns)));

        var input = store.ExplainInput("h1", TimeSpan.FromMinutes(minutes));
        var all = ViewExplanation.Explain(input.Drops, input.Counters, DropFilter.None, "6.18", input.BucketMs, input.Span);
        var rows = all.Attribution.Where(a => a.Counter == "Udp.RcvbufErrors").ToDictionary(a => a.Netns);
        Assert.Equal((AttributionMatch.Exact, 70L, "blue"), (rows[11].Match, rows[11].Explained, rows[11].NetnsName));
        Assert.Equal((AttributionMatch.Exact, 30L), (rows[22].Match, rows[22].Explained));
        var one = ViewExplanation.Explain(input.Drops, input.Counters, new DropFilter(Netns: "22"), "6.18", input.BucketMs, input.Span);
        Assert.Equal([(22u, 30L, 30L)], one.Attribution.Where(a => a.Counter == "Udp.RcvbufErrors").Select(a => (a.Netns, a.Delta, a.Explained)));
    }

    [Theory]
    [InlineData(290, 5)] // the first sample's 10 ms buckets have aged out: its head was kept when they did
    [InlineData(60, 15)] // a young host: the first sample's second is still in 10 ms buckets
    public async Task A_long_window_starts_at_its_first_sample_and_not_at_that_samples_whole_second(int seconds, int minutes)
    {
        var store = new LiveStore(new FixedClock(Now));
        // A sample 437 ms into every second; 3 drops 100 ms into each second (before its sample), 5 at 600 ms (after
        // it, sent with the next sample's batch): every rise is 8.
        var first = Now - seconds * 1000L;
        for (var second = first; second < Now; second += 1000)
        {
            DropBucket[] drops = second == first ? [Drop("f", 1, null, second + 100, 3)] : [Drop("f", 1, null, second - 400, 5), Drop("f", 1, null, second + 100, 3)];
            await store.OnBatchAsync(Hello, Batch((second - first) / 1000 + 1, drops)
                with { SentAtMs = second + 437, Counters = [new CounterDelta("Udp.InErrors", 8, second + 437)] }, default);
        }
        await store.OnBatchAsync(Hello, Batch(seconds + 1, Drop("f", 1, null, Now - 400, 5)) with { SentAtMs = Now + 100 }, default);

        var input = store.ExplainInput("h1", TimeSpan.FromMinutes(minutes));

        Assert.Equal(new SampleSpan(first + 437, Now - 1000 + 437), input.Span);
        Assert.Equal(8L * (seconds - 1), input.Counters.Sum(c => c.Delta));
        Assert.Equal(8L * (seconds - 1), input.Drops.Sum(d => d.Count));
    }

    [Theory]
    [InlineData(290, 5)] // the 10 ms buckets of the first seconds have aged out
    [InlineData(60, 15)]
    public async Task With_several_samples_a_second_a_long_window_starts_at_a_seconds_last_sample_and_stays_exact(int seconds, int minutes)
    {
        var store = new LiveStore(new FixedClock(Now));
        // Four samples a second (37, 287, 537 and 787 ms in), each batch with 2 drops 27 ms before its sample: every
        // rise is 2. Per-second sums cannot be cut inside a second, so a span longer than the 10 ms buckets reach
        // must start and end at a second's last sample, where its counters are stamped.
        var first = Now - seconds * 1000L;
        long sequence = 0;
        for (var second = first; second < Now; second += 1000)
            foreach (var offset in new[] { 37, 287, 537, 787 })
                await store.OnBatchAsync(Hello, Batch(++sequence, Drop("f", 1, null, second + offset - 27, 2))
                    with { SentAtMs = second + offset, Counters = [new CounterDelta("Udp.InErrors", 2, second + offset)] }, default);
        await store.OnBatchAsync(Hello, Batch(++sequence) with { SentAtMs = Now + 100 }, default);

        var input = store.ExplainInput("h1", TimeSpan.FromMinutes(minutes));

        Assert.Equal(1000, input.BucketMs);
        Assert.Equal(new SampleSpan(first + 787, Now - 1000 + 787), input.Span);
        Assert.Equal(8L * (seconds - 1), input.Counters.Sum(c => c.Delta));
        Assert.Equal(8L * (seconds - 1), input.Drops.Sum(d => d.Count));
    }

    [Fact]
    public async Task Without_a_later_batch_the_last_sample_is_not_an_edge_yet()
    {
        var store = new LiveStore(new FixedClock(Now));
        await store.OnBatchAsync(Hello, Batch(1) with { SentAtMs = Now - 2000, Counters = [new CounterDelta("Udp.InErrors", 1, Now - 2000)] }, default);
        await store.OnBatchAsync(Hello, Batch(2, Drop("f", 1, null, Now - 1500, 2))
            with { SentAtMs = Now - 1000, Counters = [new CounterDelta("Udp.InErrors", 2, Now - 1000)] }, default);

        var input = store.ExplainInput("h1", TimeSpan.FromMinutes(1));
        Assert.Null(input.Span);
        Assert.Empty(input.Counters);
    }

    [Fact]
    public async Task Seconds_packed_once_newer_ones_arrive_read_the_same_and_take_late_drops()
    {
        var store = new LiveStore(new FixedClock(Now));
        var sites = Enumerable.Range(0, 300).Select(i => Drop($"fn{i % 7}", i, i % 2 == 0 ? "NO_SOCKET" : null, Now - 20_000, 1L << (i % 40))).ToArray();
        await store.OnBatchAsync(Hello, Batch(1, sites), default);
        var unpacked = store.Sites("h1", TimeSpan.FromMinutes(1)).Select(s => (s.Site, s.Reason, s.Count)).ToList();
        // Ten seconds later its second is packed; then a late batch adds to it again.
        await store.OnBatchAsync(Hello, Batch(2, Drop("fn0", 0, "NO_SOCKET", Now - 10_000, 1)), default);
        Assert.Equal(unpacked.Append((Site: "fn0+0x0", Reason: (string?)"NO_SOCKET", Count: 1L)).GroupBy(s => (s.Site, s.Reason)).Select(g => (g.Key.Site, g.Key.Reason, g.Sum(s => s.Count))).ToHashSet(),
            store.Sites("h1", TimeSpan.FromMinutes(1)).Select(s => (s.Site, s.Reason, s.Count)).ToHashSet());
        await store.OnBatchAsync(Hello, Batch(3, Drop("fn0", 0, "NO_SOCKET", Now - 20_000, 5)), default);
        Assert.Equal(1L + 5 + 1, store.Sites("h1", TimeSpan.FromMinutes(1)).Single(s => s.Site == "fn0+0x0").Count);
        Assert.Equal(sites.Sum(d => d.Count) + 6, store.DropsOverTime("h1", TimeSpan.FromMinutes(1)).Series.Sum(s => s.Values.Sum()));
    }

    [Fact]
    public async Task Past_its_share_of_the_budget_a_host_keeps_its_newest_buckets_and_explain_reads_seconds_where_they_do_not_reach()
    {
        var store = new LiveStore(new FixedClock(Now), fineBudget: LiveStore.MinFineBudget);
        // 100 hosts share the budget (1000 each); this one sends 1500 buckets over a minute, a counter sample every 5 s.
        foreach (var other in Enumerable.Range(0, 99))
            await store.OnBatchAsync(Hello with { HostId = $"other{other}" }, Batch(1) with { HostId = $"other{other}" }, default);
        long sequence = 0, total = 0;
        for (var t = Now - 60_000; t < Now; t += 1000)
        {
            var drops = Enumerable.Range(0, 25).Select(i => Drop("f", i % 5, null, t + 10 * i, 2)).ToArray();
            total += drops.Sum(d => d.Count);
            var sample = (t - Now) % 5000 == 0 ? [new CounterDelta("Udp.InErrors", 1, t)] : Array.Empty<CounterDelta>();
            await store.OnBatchAsync(Hello, Batch(++sequence, drops) with { SentAtMs = t + 999, Counters = sample }, default);
        }

        Assert.Equal(total, store.Sites("h1", TimeSpan.FromMinutes(2)).Sum(s => s.Count));
        // A 10 s window: its span (two samples 5 s apart) lies in the buckets kept, at 10 ms.
        var recent = store.ExplainInput("h1", TimeSpan.FromSeconds(10));
        Assert.Equal(new SampleSpan(Now - 10_000, Now - 5000), recent.Span);
        Assert.Equal((10, 5L * 50), (recent.BucketMs, recent.Drops.Sum(d => d.Count)));
        // A minute: the first buckets went for want of room, so the span reads seconds, with every drop.
        var minute = store.ExplainInput("h1", TimeSpan.FromMinutes(1));
        Assert.Equal(1000, minute.BucketMs);
        Assert.Equal(new SampleSpan(Now - 60_000, Now - 5000), minute.Span);
        Assert.Equal(55L * 50, minute.Drops.Sum(d => d.Count));
    }

    [Fact]
    public async Task Hosts_show_rate_top_functions_lost_records_and_connection_state()
    {
        var store = new LiveStore(new FixedClock(Now));
        await store.OnBatchAsync(Hello, Batch(1, Drop("a", 1, null, Now - 100, 120), Drop("b", 1, null, Now - 100, 60)) with { LostRecords = 4 }, default);
        store.Disconnected("h1");

        var host = store.Hosts().Single();
        Assert.Equal((180L, 4L, false), (host.DropsLastMinute, host.LostRecords, host.Connected));
        Assert.Equal([("a", 2.0), ("b", 1.0)], host.TopFunctions.Select(f => (f.Function, f.PerSecond)));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task The_host_lists_running_minute_equals_a_recount_of_the_rings_through_random_batches_and_clock_steps(int seed)
    {
        var random = new Random(seed);
        var clock = new FixedClock(Now);
        var store = new LiveStore(clock);
        var hosts = Enumerable.Range(0, 3).Select(h => new AgentHello($"h{h}", $"host-{h}", "6.18", "bpf", "t", 10, "i")).ToArray();
        var sequence = 0L;
        for (var step = 0; step < 1500; step++)
        {
            // Mostly a quarter second on; now and then a quiet spell, past the ring's 15 minutes, or a step back.
            clock.Ms += random.Next(100) switch
            {
                < 2 => random.Next(20_000, 90_000),
                < 3 => 16 * 60_000,
                < 6 => -random.Next(500, 5000),
                _ => random.Next(0, 600),
            };
            var host = hosts[random.Next(hosts.Length)];
            if (random.Next(40) == 0) store.Disconnected(host.HostId);
            var drops = Enumerable.Range(0, random.Next(0, 12)).Select(_ =>
            {
                var site = random.Next(10);
                // Around now: a little ahead (a host clock running fast), late within the minute, past it, or older than the ring.
                var ms = clock.Ms + random.Next(100) switch { < 5 => random.Next(0, 3000), < 15 => -random.Next(55_000, 70_000), < 17 => -1_000_000, _ => -random.Next(0, 3000) };
                return Drop($"fn{site % 4}", site, null, ms, random.Next(1, 50)) with { Netns = (uint)random.Next(3), NetnsName = null };
            }).ToArray();
            await store.OnBatchAsync(host, new AgentBatch(host.HostId, ++sequence, clock.Ms, drops, [], [], 0, 0), default);

            if (random.Next(3) != 0) continue;
            foreach (var listed in store.Hosts())
            {
                // The recount: every second of the host's minute read from its ring again.
                var sites = store.Sites(listed.HostId, TimeSpan.FromMinutes(1));
                var top = sites.GroupBy(s => s.Function).Select(g => new FunctionRate(g.Key, g.Sum(s => s.Count) / 60.0))
                    .OrderByDescending(f => f.PerSecond).ThenBy(f => f.Function, StringComparer.Ordinal).Take(3);
                Assert.Equal(sites.Sum(s => s.Count), listed.DropsLastMinute);
                Assert.Equal(top, listed.TopFunctions);
                Assert.Equal(listed, store.Host(listed.HostId)! with { TopFunctions = listed.TopFunctions });
            }
        }
    }

    private static DropBucket Drop(string function, int offset, string? reason, long ms, long count, ushort protocol = 0) =>
        new($"{function}+0x{offset:x}", function, reason, ms / 10 * 10, count, protocol);

    private static AgentBatch Batch(long sequence, params DropBucket[] drops) => new("h1", sequence, Now, drops, [], [], 0, 0);
}
