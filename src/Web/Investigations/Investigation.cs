namespace DropBoard.Web.Investigations;

/// <summary>What an investigation shows: a view over sessions, with the team's notes.</summary>
public sealed record InvestigationBody(
    string Title,
    IReadOnlyList<long> Sessions,
    string Notes,
    InvestigationFilters? Filters = null,
    InvestigationWindow? Window = null,
    IReadOnlyList<string>? Pinned = null);

public sealed record InvestigationFilters(string? Site = null, string? Reason = null, string? Host = null);

/// <summary>A time window, Unix ms, [FromMs, ToMs).</summary>
public sealed record InvestigationWindow(long FromMs, long ToMs);

public sealed record Investigation(string Slug, int Version, long CreatedMs, long UpdatedMs, InvestigationBody Body, IReadOnlyList<InvestigationVersion> History);

/// <summary>An investigation as lists show it: its link, title, sessions and when it was last saved.</summary>
public sealed record InvestigationSummary(string Slug, string Title, int Version, long CreatedMs, long UpdatedMs, IReadOnlyList<long> Sessions);

/// <summary>An earlier save, kept when the investigation was edited.</summary>
public sealed record InvestigationVersion(int Version, long SavedMs, InvestigationBody Body);
