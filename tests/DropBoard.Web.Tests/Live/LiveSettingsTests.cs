using DropBoard.TestKit;
using DropBoard.Web.Live;

namespace DropBoard.Web.Tests.Live;

public sealed class LiveSettingsTests
{
    [Theory]
    [InlineData("99999")] // one below the least: once clamped without a word
    [InlineData("100000001")] // one above the most
    [InlineData("4e6")]
    public async Task A_fine_bucket_budget_out_of_range_stops_the_start_with_the_range(string value)
    {
        var (code, output) = await WebAppProcess.RunUntilExitAsync("DropBoard:EmbeddedAgent=false", $"DropBoard:LiveFineBuckets={value}");
        Assert.Equal(2, code);
        Assert.Contains($"DropBoard:LiveFineBuckets is {value}; it is a whole number from {LiveStore.MinFineBudget} to {LiveStore.MaxFineBudget}", output);
    }
}
