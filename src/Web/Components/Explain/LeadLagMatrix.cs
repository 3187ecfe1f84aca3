using DropBoard.Shared.Analysis;

namespace DropBoard.Web.Components.Explain;

/// <summary>
/// The strongest lead/lag relations laid out as a square: sites in the order of the relations, which come best evidence
/// first (<see cref="LeadLag.Analyze"/>), so a pair seen once does not pick the sites shown.
/// </summary>
public sealed record LeadLagMatrix(IReadOnlyList<string> Sites, IReadOnlyDictionary<(string Leader, string Follower), LeadLagRelation> Cells)
{
    public static readonly LeadLagMatrix Empty = new([], new Dictionary<(string, string), LeadLagRelation>());

    public static LeadLagMatrix From(IReadOnlyList<LeadLagRelation> relations, int maxSites)
    {
        var sites = relations
            .SelectMany(r => new[] { r.Leader, r.Follower })
            .Distinct(StringComparer.Ordinal)
            .Take(maxSites)
            .ToList();
        var keep = sites.ToHashSet(StringComparer.Ordinal);
        var cells = relations.Where(r => keep.Contains(r.Leader) && keep.Contains(r.Follower))
            .ToDictionary(r => (r.Leader, r.Follower));
        return new LeadLagMatrix(sites, cells);
    }

    public LeadLagRelation? Find(string leader, string follower) => Cells.GetValueOrDefault((leader, follower));
}
