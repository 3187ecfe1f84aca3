using System.CommandLine;
using DropBoard.Web.Sessions;

namespace DropBoard.Web.Access;

/// <summary>
/// The dashboard program's admin commands (<c>dotnet run --project src/Web -- users add NAME --role admin</c>),
/// on the same database file the server uses, also while it runs. A secret is printed once, as the last line of
/// standard output, and only its hash is kept.
/// </summary>
public static class AccessCommands
{
    private static readonly string[] Names = ["users", "tokens", "agents"];

    public static bool Handles(string[] args) => args.Length > 0 && Names.Contains(args[0]);

    public static int Run(string[] args, IConfiguration configuration)
    {
        var database = new Option<string>("--database")
        {
            Description = "The dashboard's database: a file, or a PostgreSQL connection string (default: DropBoard:Database, else data/dropboard.db)",
            DefaultValueFactory = _ => configuration["DropBoard:Database"] ?? Path.Combine("data", "dropboard.db"),
            Recursive = true,
        };
        var role = new Option<Role>("--role") { Description = "viewer, editor or admin", Required = true, CustomParser = ParseRole };
        var name = new Argument<string>("NAME");
        var host = new Argument<string>("HOST") { Description = "The host name its agent reports (hostname)" };

        var root = new RootCommand("DropBoard dashboard administration") { database };
        root.Subcommands.Add(new Command("users", "People who sign in with a password")
        {
            Action("add", "Create a user and print a generated password", [name, role],
                (s, r) => Secret(s.AddUser(r.GetValue(name)!, r.GetValue(role)), $"user '{r.GetValue(name)}' ({r.GetValue(role).Name()}) created; the password, shown only now:")),
            Action("remove", "Remove a user (their sessions in browsers end within seconds)", [name],
                (s, r) => Done(s.RemoveUser(r.GetValue(name)!), $"user '{r.GetValue(name)}' removed", $"no user '{r.GetValue(name)}'")),
            Action("list", "List users", [], (s, _) => List(s.Users().Select(u => $"{u.Name}\t{u.Role.Name()}\t{Time(u.CreatedMs)}"))),
        });
        root.Subcommands.Add(new Command("tokens", "API tokens for scripts, Grafana and CI (Authorization: Bearer)")
        {
            Action("add", "Create an API token and print it", [name, role],
                (s, r) => Secret(s.AddToken(r.GetValue(name)!, r.GetValue(role)), $"token '{r.GetValue(name)}' ({r.GetValue(role).Name()}) created; the token, shown only now:")),
            Action("revoke", "Revoke an API token (refused within seconds)", [name],
                (s, r) => Done(s.RevokeToken(r.GetValue(name)!), $"token '{r.GetValue(name)}' revoked", $"no token '{r.GetValue(name)}'")),
            Action("list", "List API tokens", [], (s, _) => List(s.Tokens().Select(t => $"{t.Name}\t{t.Role.Name()}\t{Time(t.CreatedMs)}"))),
        });
        root.Subcommands.Add(new Command("agents", "Per-host agent credentials: an agent may send batches only as its own host")
        {
            Action("add", "Create a credential for HOST and print it (give it to the agent with --token-file)", [host],
                (s, r) => Secret(s.AddAgent(r.GetValue(host)!), $"credential for host '{r.GetValue(host)}' created; put it in the agent's --token-file (mode 600), shown only now:")),
            Action("revoke", "Revoke HOST's credential; its connections are closed within seconds", [host],
                (s, r) => Done(s.RevokeAgent(r.GetValue(host)!), $"credential for host '{r.GetValue(host)}' revoked", $"no credential for host '{r.GetValue(host)}'")),
            Action("list", "List agent credentials", [], (s, _) => List(s.Agents().Select(a => $"{a.Host}\t{a.HostId ?? "(no batch yet)"}\t{Time(a.CreatedMs)}"))),
        });
        return root.Parse(args).Invoke();

        Command Action(string verb, string description, Symbol[] symbols, Func<AccessStore, ParseResult, int> run)
        {
            var command = new Command(verb, description);
            foreach (var symbol in symbols)
            {
                if (symbol is Argument a) command.Arguments.Add(a);
                else command.Options.Add((Option)symbol);
            }
            command.SetAction(result =>
            {
                try
                {
                    return run(new AccessStore(SessionDatabase.Open(result.GetValue(database)!), TimeProvider.System), result);
                }
                catch (Exception e) when (e is AccessException or SessionDatabaseException)
                {
                    Console.Error.WriteLine($"dropboard: {e.Message}");
                    return 1;
                }
            });
            return command;
        }
    }

    private static Role ParseRole(System.CommandLine.Parsing.ArgumentResult result)
    {
        var text = result.Tokens.Single().Value;
        if (AccessClaims.TryParse(text, out var role)) return role;
        result.AddError($"--role '{text}' is not viewer, editor or admin");
        return default;
    }

    private static int Secret(string secret, string what)
    {
        Console.WriteLine(what);
        Console.WriteLine(secret);
        return 0;
    }

    private static int Done(bool done, string yes, string no)
    {
        if (done) Console.WriteLine(yes);
        else Console.Error.WriteLine($"dropboard: {no}");
        return done ? 0 : 1;
    }

    private static int List(IEnumerable<string> lines)
    {
        foreach (var line in lines) Console.WriteLine(line);
        return 0;
    }

    private static string Time(long ms) => Clock.TimeText.Utc(ms);
}
