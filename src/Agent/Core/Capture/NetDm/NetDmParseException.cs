namespace DropBoard.Agent.Capture.NetDm;

/// <summary>
/// A netlink message that does not hold what its lengths and types promise. The only exception the NET_DM
/// parsers throw: the source counts it, says what was wrong and goes on with the next message.
/// </summary>
public sealed class NetDmParseException(string message) : Exception(message);
