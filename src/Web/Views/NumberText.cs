namespace DropBoard.Web.Views;

/// <summary>Numbers as pages print them where a glance matters more than the digits.</summary>
public static class NumberText
{
    /// <summary>1234 → "1.2k", 2500000 → "2.5M": numbers a glance can read.</summary>
    public static string Short(double value) => value switch
    {
        >= 1e9 => $"{value / 1e9:0.#}G",
        >= 1e6 => $"{value / 1e6:0.#}M",
        >= 1e3 => $"{value / 1e3:0.#}k",
        >= 10 => $"{value:0}",
        _ => $"{value:0.#}",
    };
}
