using System.Net;
using System.Net.Http.Json;
using DropBoard.TestKit;
using Microsoft.Data.Sqlite;

namespace DropBoard.Web.Tests.Sessions;

/// <summary>One session whose stored data cannot be shown must not take the session list down for everyone.</summary>
public sealed class BrokenSessionTests
{
    [Fact]
    public async Task A_session_that_cannot_be_shown_costs_its_own_row_and_the_list_still_serves_the_others()
    {
        var db = WebAppProcess.NewDatabasePath();
        await using var app = await WebAppProcess.StartAsync($"DropBoard:Database={db}", "DropBoard:EmbeddedAgent=false");
        Assert.Equal(HttpStatusCode.Created, (await app.Http.PostAsJsonAsync("api/sessions", new { name = "healthy before" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await app.Http.PostAsJsonAsync("api/sessions", new { name = "damaged" })).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await app.Http.PostAsJsonAsync("api/sessions", new { name = "healthy after" })).StatusCode);
        // A start time no calendar has, as an old bug or a hand-edited file could leave behind.
        using (var connection = new SqliteConnection($"Data Source={db}"))
        {
            connection.Open();
            using var damage = connection.CreateCommand();
            damage.CommandText = "UPDATE sessions SET started_ms = 9000000000000000000 WHERE name = 'damaged'";
            Assert.Equal(1, damage.ExecuteNonQuery());
        }

        var response = await app.Http.GetAsync("sessions");
        var page = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("healthy before", page);
        Assert.Contains("healthy after", page);
        Assert.Contains("Session 2 could not be shown", page);
    }
}
