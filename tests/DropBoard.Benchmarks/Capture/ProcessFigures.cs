namespace DropBoard.Benchmarks.Capture;

/// <summary>A running process's CPU time and memory, as the kernel accounts them (/proc/PID/stat and status).</summary>
internal static class ProcessFigures
{
    /// <summary>utime + stime of the process (exited threads included) and its reaped children, in seconds (ticks of 1/100 s).</summary>
    public static double CpuSeconds(int pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        // fields[0] is state (field 3): utime is field 14, stime 15.
        return (long.Parse(fields[11]) + long.Parse(fields[12])) / 100.0;
    }

    /// <summary>Resident memory now (VmRSS) and its peak so far (VmHWM), in MiB.</summary>
    public static (double Rss, double Peak) ResidentMiB(int pid)
    {
        double rss = 0, peak = 0;
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal)) rss = Kib(line) / 1024.0;
            else if (line.StartsWith("VmHWM:", StringComparison.Ordinal)) peak = Kib(line) / 1024.0;
        }
        return (rss, peak);
    }

    private static long Kib(string line) => long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);
}
