using DropBoard.Agent.Uplink;

namespace DropBoard.Agent.Tests.Uplink;

public sealed class ServerListTests
{
    private static readonly Uri A = new("http://a:5080/"), B = new("http://b:5080/"), C = new("http://c:5080/");

    [Fact]
    public void A_failed_server_hands_over_to_the_next_at_once_and_only_a_whole_failed_round_asks_for_a_wait()
    {
        var servers = new ServerList([A, B, C]);
        Assert.Equal(A, servers.Current);

        Assert.False(servers.Failed());
        Assert.Equal(B, servers.Current);
        Assert.False(servers.Failed());
        Assert.Equal(C, servers.Current);
        Assert.True(servers.Failed());
        Assert.Equal(A, servers.Current);
        Assert.False(servers.Failed());
        Assert.False(servers.Failed());
        Assert.True(servers.Failed());
    }

    [Fact]
    public void The_agent_stays_with_a_server_that_answers_and_a_success_starts_the_round_again()
    {
        var servers = new ServerList([A, B]);
        Assert.False(servers.Failed());
        servers.Answered();
        Assert.Equal(B, servers.Current);
        Assert.False(servers.Failed());
        Assert.Equal(A, servers.Current);
        Assert.True(servers.Failed());
        Assert.Equal(B, servers.Current);
    }

    [Fact]
    public void One_server_is_retried_after_a_wait_each_time()
    {
        var servers = new ServerList([A]);
        Assert.True(servers.Failed());
        Assert.True(servers.Failed());
        Assert.Equal(A, servers.Current);
    }
}
