namespace DropBoard.Agent.Netlink;

/// <summary>
/// A netlink message that does not hold what its lengths and types promise. The only exception the netlink
/// parsers throw: the NET_DM source counts it and goes on with the next message; a counter reader reports it
/// as a problem and samples the rest.
/// </summary>
public sealed class NetlinkParseException(string message) : Exception(message);
