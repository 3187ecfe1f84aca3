namespace DropBoard.Agent.Capture.Tracepoint;

/// <summary>Where the fields DropBoard needs sit in a skb:kfree_skb raw record on this kernel.</summary>
public sealed record KfreeSkbLayout(int EventId, int LocationOffset, int ProtocolOffset, int ReasonOffset, int ReasonSize, int MinimumRawSize)
{
    public bool HasReason => ReasonOffset >= 0;

    public static KfreeSkbLayout From(TracepointFormat format)
    {
        var location = format.RequireField("location", 8);
        var protocol = format.RequireField("protocol", 2);
        var reason = format.Field("reason");
        if (reason is { Size: not (4 or 2) })
            throw new FormatException($"tracepoint {format.Name}: field 'reason' has size {reason.Value.Size}, expected 4 or 2");
        return new KfreeSkbLayout(
            format.Id,
            location.Offset,
            protocol.Offset,
            reason?.Offset ?? -1,
            reason?.Size ?? 0,
            format.MinimumRecordSize);
    }
}
