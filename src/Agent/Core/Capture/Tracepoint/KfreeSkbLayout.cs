namespace DropBoard.Agent.Capture.Tracepoint;

/// <summary>
/// Where the fields DropBoard needs sit in a skb:kfree_skb (or skb:consume_skb) raw record on this kernel.
/// Offsets are -1 for fields the event does not have.
/// </summary>
public sealed record KfreeSkbLayout(int EventId, int LocationOffset, int ProtocolOffset, int ReasonOffset, int ReasonSize, int MinimumRawSize)
{
    public bool HasReason => ReasonOffset >= 0;

    public bool HasProtocol => ProtocolOffset >= 0;

    /// <summary>skb:consume_skb, the normal free: a location, no reason; a protocol only on kernels that add one.</summary>
    public static KfreeSkbLayout ForConsumeSkb(TracepointFormat format) =>
        new(format.Id, format.RequireField("location", 8).Offset, format.Field("protocol")?.Offset ?? -1, -1, 0, format.MinimumRecordSize);

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
