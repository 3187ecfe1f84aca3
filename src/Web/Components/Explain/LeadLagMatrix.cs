using DropBoard.Shared.Analysis;

namespace DropBoard.Web.Components.Explain;

/// <summary>The strongest lead/lag relations laid out as a square: sites in order of their strongest relation.</summary>
public sealed record LeadLagMatrix(IReadOnlyList<string> Sites, IReadOnlyDictionary<(string Leader, string Follower), LeadLagRelation> Cells)
{
    public static readonly LeadLagMatrix Empty = new([], new Dictionary<(string, string), LeadLagRelation>());

    public static LeadLagMatrix From(IReadOnlyList<LeadLagRelation> relations, int maxSites)
    {
        var sites = relations.OrderByDescending(r => r.Score)
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
