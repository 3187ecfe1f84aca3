using DropBoard.Agent.Netlink;
namespace DropBoard.Agent.Capture.NetDm;

/// <summary>A generic-netlink family as the controller describes it (CTRL_CMD_NEWFAMILY reply to CTRL_CMD_GETFAMILY).</summary>
public sealed record GenlFamily(ushort Id, string Name, uint Version, IReadOnlyDictionary<string, uint> MulticastGroups)
{
    public static NetlinkRequest Request(string name, uint sequence) =>
        NetlinkRequest.Genl(NetlinkProtocol.GENL_ID_CTRL, NetlinkProtocol.CTRL_CMD_GETFAMILY, 1, sequence).String(NetlinkProtocol.CTRL_ATTR_FAMILY_NAME, name);

    /// <summary>Reads the controller's reply; a reply without an id or name is a <see cref="NetlinkParseException"/>.</summary>
    public static GenlFamily Parse(NetlinkMessage reply)
    {
        if (reply.Type != NetlinkProtocol.GENL_ID_CTRL || reply.GenlCommand != NetlinkProtocol.CTRL_CMD_NEWFAMILY)
            throw new NetlinkParseException($"expected a controller NEWFAMILY reply, got type {reply.Type} command {reply.GenlCommand}");
        ushort? id = null;
        string? name = null;
        uint version = 0;
        var groups = new Dictionary<string, uint>(StringComparer.Ordinal);
        foreach (var attribute in reply.GenlAttributes())
        {
            switch (attribute.Type)
            {
                case NetlinkProtocol.CTRL_ATTR_FAMILY_ID: id = attribute.U16(); break;
                case NetlinkProtocol.CTRL_ATTR_FAMILY_NAME: name = attribute.String(); break;
                case NetlinkProtocol.CTRL_ATTR_VERSION: version = attribute.U32(); break;
                case NetlinkProtocol.CTRL_ATTR_MCAST_GROUPS:
                    foreach (var group in attribute.Nested())
                    {
                        string? groupName = null;
                        uint? groupId = null;
                        foreach (var field in group.Nested())
                        {
                            if (field.Type == NetlinkProtocol.CTRL_ATTR_MCAST_GRP_NAME) groupName = field.String();
                            else if (field.Type == NetlinkProtocol.CTRL_ATTR_MCAST_GRP_ID) groupId = field.U32();
                        }
                        if (groupName is not null && groupId is { } gid) groups[groupName] = gid;
                    }
                    break;
            }
        }
        if (id is null || name is null)
            throw new NetlinkParseException("the controller's family reply has no family id or name");
        return new GenlFamily(id.Value, name, version, groups);
    }
}
