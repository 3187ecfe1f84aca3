namespace DropBoard.Agent;

/// <summary>What <c>dropboard-agent</c> exits with, so scripts and systemd can tell the causes apart.</summary>
public static class ExitCodes
{
    public const int Ok = 0;

    /// <summary>This host cannot capture (no NET_DM, no tracepoint, no permission); the reason and its fix are on stderr.</summary>
    public const int CannotCapture = 3;

    /// <summary>The server does not know the credential (HTTP 401).</summary>
    public const int TokenRefused = 5;

    /// <summary>The server knows the credential but refused what it was used for (HTTP 403).</summary>
    public const int Forbidden = 6;

    /// <summary>The --token-file is missing, unreadable, not a regular file, open to others, someone else's or empty.</summary>
    public const int CredentialFile = 7;

    /// <summary>The agent could not give its privileges up (--user), or its spool is not writable afterwards.</summary>
    public const int PrivilegeDrop = 8;

    /// <summary>Stopped with batches the server has not acknowledged: they wait in the spool for the next run.</summary>
    public const int Unsent = 9;

    /// <summary>Batches were discarded (spool and memory backlog full) or lost at exit: the dashboard misses their drops.</summary>
    public const int Discarded = 10;
}
