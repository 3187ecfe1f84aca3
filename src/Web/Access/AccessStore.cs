using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Dapper;
using DropBoard.Web.Sessions;
using Microsoft.AspNetCore.Identity;

namespace DropBoard.Web.Access;

/// <summary>A request to the access store that cannot be done as asked; the message says why.</summary>
public sealed class AccessException(string message) : Exception(message);

public sealed record UserEntry(string Name, Role Role, long CreatedMs);

public sealed record ApiTokenEntry(string Name, Role Role, long CreatedMs);

public sealed record AgentCredentialEntry(string Host, string? HostId, long CreatedMs);

/// <summary>What a presented secret turned out to be: an API token with a role, or an agent credential bound to a host.</summary>
public abstract record Credential(string Name);

public sealed record ApiTokenCredential(string Name, Role Role) : Credential(Name);

public sealed record AgentCredential(string Host) : Credential(Host);

/// <summary>
/// Users, API tokens and per-host agent credentials, in the dashboard's database. Secrets are generated here,
/// returned once and stored only as hashes: passwords with ASP.NET Core Identity's PBKDF2 hasher (they are
/// chosen by people and must be slow to guess), tokens with SHA-256 (256 random bits need no stretching, and
/// every API request looks one up).
/// </summary>
public sealed partial class AccessStore(SessionDatabase database, TimeProvider clock)
{
    private const string TokenPrefix = "dbt_", AgentPrefix = "dba_";
    private static readonly PasswordHasher<string> Passwords = new();

    private long Now => clock.GetUtcNow().ToUnixTimeMilliseconds();

    /// <returns>The generated password, shown once.</returns>
    public string AddUser(string name, Role role)
    {
        CheckName(name, "user");
        var password = Secret(18);
        Insert("INSERT INTO users VALUES (@name, @role, @hash, @now, @stamp)",
            new { name, role = role.Name(), hash = Passwords.HashPassword(name, password), now = Now, stamp = Secret(12) },
            $"a user '{name}' exists already");
        return password;
    }

    public bool RemoveUser(string name)
    {
        using var connection = database.Connect();
        return connection.Execute("DELETE FROM users WHERE name = @name", new { name }) == 1;
    }

    /// <returns>The user and their current stamp when the password is theirs; null otherwise.</returns>
    public (UserEntry User, string Stamp)? CheckPassword(string name, string password)
    {
        using var connection = database.Connect();
        var row = connection.QueryFirstOrDefault<(string? Name, string Role, string Hash, long CreatedMs, string Stamp)>(
            "SELECT name, role, password_hash, created_ms, stamp FROM users WHERE name = @name", new { name });
        if (row.Name is null || !AccessClaims.TryParse(row.Role, out var role)) return null;
        return Passwords.VerifyHashedPassword(row.Name, row.Hash, password) == PasswordVerificationResult.Failed
            ? null
            : (new UserEntry(row.Name, role, row.CreatedMs), row.Stamp);
    }

    /// <summary>The role of a signed-in user whose stamp still matches; null once the user is removed or re-created.</summary>
    public Role? CurrentRole(string name, string stamp)
    {
        using var connection = database.Connect();
        var role = connection.QueryFirstOrDefault<string>("SELECT role FROM users WHERE name = @name AND stamp = @stamp", new { name, stamp });
        return AccessClaims.TryParse(role, out var r) ? r : null;
    }

    public long UserCount()
    {
        using var connection = database.Connect();
        return connection.ExecuteScalar<long>("SELECT count(*) FROM users");
    }

    public IReadOnlyList<UserEntry> Users()
    {
        using var connection = database.Connect();
        return connection.Query<(string Name, string Role, long CreatedMs)>("SELECT name, role, created_ms FROM users ORDER BY name")
            .Select(r => new UserEntry(r.Name, Enum.Parse<Role>(r.Role, ignoreCase: true), r.CreatedMs)).ToList();
    }

    /// <returns>The token, shown once.</returns>
    public string AddToken(string name, Role role)
    {
        CheckName(name, "token");
        var token = TokenPrefix + Secret(32);
        Insert("INSERT INTO api_tokens VALUES (@name, @role, @hash, @now)", new { name, role = role.Name(), hash = Hash(token), now = Now },
            $"a token named '{name}' exists already");
        return token;
    }

    public bool RevokeToken(string name)
    {
        using var connection = database.Connect();
        return connection.Execute("DELETE FROM api_tokens WHERE name = @name", new { name }) == 1;
    }

    public IReadOnlyList<ApiTokenEntry> Tokens()
    {
        using var connection = database.Connect();
        return connection.Query<(string Name, string Role, long CreatedMs)>("SELECT name, role, created_ms FROM api_tokens ORDER BY name")
            .Select(r => new ApiTokenEntry(r.Name, Enum.Parse<Role>(r.Role, ignoreCase: true), r.CreatedMs)).ToList();
    }

    /// <returns>The agent's credential, shown once.</returns>
    public string AddAgent(string host)
    {
        CheckName(host, "host");
        var secret = AgentPrefix + Secret(32);
        Insert("INSERT INTO agent_credentials (host, token_hash, created_ms) VALUES (@host, @hash, @now)", new { host, hash = Hash(secret), now = Now },
            $"host '{host}' has a credential already: revoke it first (agents revoke {host})");
        return secret;
    }

    public bool RevokeAgent(string host)
    {
        using var connection = database.Connect();
        return connection.Execute("DELETE FROM agent_credentials WHERE host = @host", new { host }) == 1;
    }

    public IReadOnlyList<AgentCredentialEntry> Agents()
    {
        using var connection = database.Connect();
        return connection.Query<AgentCredentialEntry>("SELECT host AS Host, host_id AS HostId, created_ms AS CreatedMs FROM agent_credentials ORDER BY host").ToList();
    }

    /// <summary>
    /// Binds a credential to the machine id of its first batch. Null when it is (now) bound to
    /// <paramref name="hostId"/>; otherwise why not: bound to another machine, or that machine belongs to another credential.
    /// </summary>
    public string? PinAgent(string host, string hostId)
    {
        using var connection = database.Connect();
        var pinned = connection.QueryFirstOrDefault<(string? Host, string? HostId)>(
            "SELECT host, host_id FROM agent_credentials WHERE host = @host", new { host });
        if (pinned.Host is null) return $"the credential for '{host}' was revoked";
        if (pinned.HostId == hostId) return null;
        if (pinned.HostId is not null)
            return $"the credential for '{host}' belongs to machine {pinned.HostId}, not {hostId} (a reinstalled host: agents revoke {host}, then agents add {host})";
        var owner = connection.QueryFirstOrDefault<string>("SELECT host FROM agent_credentials WHERE host_id = @hostId", new { hostId });
        if (owner is not null) return $"machine {hostId} speaks with the credential for '{owner}', not '{host}'";
        connection.Execute("UPDATE agent_credentials SET host_id = @hostId WHERE host = @host AND host_id IS NULL", new { host, hostId });
        return null;
    }

    /// <summary>What a presented bearer secret is, or null when it is no live token or credential.</summary>
    public Credential? Find(string secret)
    {
        if (secret.StartsWith(TokenPrefix, StringComparison.Ordinal))
        {
            using var connection = database.Connect();
            var row = connection.QueryFirstOrDefault<(string? Name, string Role)>(
                "SELECT name, role FROM api_tokens WHERE token_hash = @hash", new { hash = Hash(secret) });
            return row.Name is not null && AccessClaims.TryParse(row.Role, out var role) ? new ApiTokenCredential(row.Name, role) : null;
        }
        if (secret.StartsWith(AgentPrefix, StringComparison.Ordinal))
        {
            using var connection = database.Connect();
            var host = connection.QueryFirstOrDefault<string>("SELECT host FROM agent_credentials WHERE token_hash = @hash", new { hash = Hash(secret) });
            return host is null ? null : new AgentCredential(host);
        }
        return null;
    }

    private void Insert(string sql, object values, string duplicate)
    {
        using var connection = database.Connect();
        try
        {
            connection.Execute(sql, values);
        }
        catch (DbException e) when (database.Engine.IsDuplicate(e)) // the name is taken
        {
            throw new AccessException(duplicate);
        }
    }

    private static void CheckName(string name, string what)
    {
        if (!NameRule().IsMatch(name))
            throw new AccessException($"{what} name '{name}' must be 1 to 64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit");
    }

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")]
    private static partial Regex NameRule();

    private static string Secret(int bytes) => System.Buffers.Text.Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(bytes));

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));
}
