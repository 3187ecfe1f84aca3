using System.Globalization;
using System.Numerics;

namespace DropBoard.Agent.Privileges;

/// <summary>The Linux capabilities the agent deals with, numbered as in <c>linux/capability.h</c>.</summary>
public enum Capability
{
    SetGid = 6,
    SetUid = 7,
    SetPcap = 8,
    NetAdmin = 12,
    SysAdmin = 21,
    Syslog = 34,
    Perfmon = 38,
}

/// <summary>A set of capabilities as the kernel keeps it: one bit per capability number (as /proc/PID/status shows it).</summary>
public readonly record struct CapabilitySet(ulong Bits)
{
    public static readonly CapabilitySet None = new(0);

    public static CapabilitySet Of(params Capability[] capabilities) =>
        new(capabilities.Aggregate(0UL, (bits, c) => bits | (1UL << (int)c)));

    public bool IsEmpty => Bits == 0;

    public bool Contains(int capability) => (Bits & (1UL << capability)) != 0;

    public CapabilitySet With(Capability capability) => new(Bits | (1UL << (int)capability));

    /// <summary>As /proc/PID/status prints CapEff and its kin: 16 hex digits.</summary>
    public string Hex => Bits.ToString("x16", CultureInfo.InvariantCulture);

    /// <summary>"CAP_NET_ADMIN CAP_SYSLOG", or "none".</summary>
    public override string ToString()
    {
        if (IsEmpty) return "none";
        var names = new List<string>(BitOperations.PopCount(Bits));
        for (var bit = 0; bit < 64; bit++)
            if (Contains(bit)) names.Add(Name(bit));
        return string.Join(' ', names);
    }

    private static string Name(int bit) => (Capability)bit switch
    {
        Capability.SetGid => "CAP_SETGID",
        Capability.SetUid => "CAP_SETUID",
        Capability.SetPcap => "CAP_SETPCAP",
        Capability.NetAdmin => "CAP_NET_ADMIN",
        Capability.SysAdmin => "CAP_SYS_ADMIN",
        Capability.Syslog => "CAP_SYSLOG",
        Capability.Perfmon => "CAP_PERFMON",
        _ => $"capability {bit}",
    };
}
