using System.Net.Http.Json;
using System.Text.Json;
using DropBoard.TestKit;

namespace DropBoard.Web.Tests.Live;

/// <summary>
/// A steady stream of receive-buffer drops in a namespace, and the live explain API asked for 5, 10 and 60 s
/// windows again and again while it runs: each answer takes the counter rises and the drops over the same span,
/// (the agent splits the 10 ms bucket that holds a counter sample at the sample, and reads the counters again when a
/// drop came while it read them), so Udp.RcvbufErrors is explained exactly every time: never Close, Partial or Over.
/// </summary>
[Collection(KernelCollection.Name)]
public sealed class LiveWindowExactnessTests
{
    private static readonly int[] Windows = [5, 10, 60];

    [Fact]
    public async Task Every_live_window_over_a_steady_stream_of_receive_buffer_drops_explains_RcvbufErrors_exactly()
    {
        using var ns = NetNamespace.Create();
        using var _ = KernelTestLock.Acquire();
        await using var app = await WebAppProcess.StartAsync($"DropBoard:EmbeddedAgentNetNamespace={ns.Name}");
        var host = await LiveApiReads.FirstHostAsync(app);

        using var stop = new CancellationTokenSource();
        var stream = Task.Run(() => UdpTraffic.SteadyOverflow(ns, 7301, stop.Token));
        var answers = new List<(int Seconds, string Match, long Delta, long Explained)>();
        try
        {
            // Let the first drops and counter samples arrive, then ask while the stream goes on.
            await Task.Delay(TimeSpan.FromSeconds(4));
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (DateTime.UtcNow < until)
            {
                foreach (var seconds in Windows)
                {
                    var report = await app.Http.GetFromJsonAsync<JsonElement>($"api/live/explain?host={host}&seconds={seconds}");
                    var row = report.GetProperty("attribution").EnumerateArray()
                        .FirstOrDefault(a => a.GetProperty("counter").GetString() == "Udp.RcvbufErrors");
                    answers.Add(row.ValueKind == JsonValueKind.Undefined
                        ? (seconds, "missing", 0, 0)
                        : (seconds, row.GetProperty("match").ToString(), row.GetProperty("delta").GetInt64(), row.GetProperty("explained").GetInt64()));
                }
                await Task.Delay(700);
            }
        }
        finally
        {
            stop.Cancel();
        }
        var sent = await stream;

        var exact = answers.Count(a => a.Match == "Exact");
        TestContext.Current.TestOutputHelper?.WriteLine(
            $"{sent} datagrams sent; windows asked {answers.Count}, exact {exact}; " +
            string.Join(", ", answers.GroupBy(a => a.Match).Select(g => $"{g.Key} {g.Count()}")));
        Assert.True(sent > 5000, $"the stream sent only {sent} datagrams");
        // Before the spans lined up, 0 of 129 were exact and 110 Partial or Over; before the counter reads were
        // bracketed by map reads, a drop between the cut and the read sat on the other side of its sample in about
        // half the runs (Close by one).
        Assert.All(answers, a => Assert.True(a.Match == "Exact" && a.Delta == a.Explained,
            $"{a.Seconds} s window: Udp.RcvbufErrors +{a.Delta}, drops {a.Explained}, {a.Match}\n" +
            string.Join("\n", answers.Select(x => $"  {x.Seconds} s: +{x.Delta} vs {x.Explained} {x.Match}"))));
    }
}
