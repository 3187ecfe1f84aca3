using Xunit;

namespace DropBoard.TestKit;

/// <summary>
/// A throw-away VM on Debian's 6.1 kernel (tests/vm/dropboard-vm.sh), for kernel features this machine lacks
/// (drop_monitor). The guest sees this machine's files, so the built agent runs inside; a shared directory
/// carries the script in and the results out.
/// </summary>
public sealed class TestVm : IDisposable
{
    private static readonly string VmDir = Path.Combine(AppContext.BaseDirectory, "vm");

    /// <summary>The directory the script runs in, inside the VM and here.</summary>
    public string Share { get; } = Directory.CreateTempSubdirectory("dropboard-vm-").FullName;

    /// <summary>
    /// AGENT runs with tiered compilation (quick JIT first) instead of the agent's own setting (every method fully
    /// optimised at its first call): emulated, that made each agent start ~3 s (a fifth) slower. Not for a test of the
    /// agent's threads: tiering starts a thread of its own, which a thread holding capabilities could make.
    /// </summary>
    public bool QuickJit { get; init; }

    /// <summary>
    /// Fails (CI) or skips (laptop) with the reason when a VM cannot boot here. KVM is not needed: without a
    /// usable /dev/kvm the script emulates the guest (TCG), which boots this small guest in seconds too.
    /// </summary>
    public static void Require()
    {
        Privileged.RequireRoot();
        Privileged.RequireCommand("qemu-system-x86_64", "qemu-system-x86");
        Privileged.RequireCommand("busybox", "busybox-static");
        Privileged.RequireCommand("python3", "python3");
    }

    /// <summary>
    /// Boots, runs <paramref name="script"/> (POSIX sh, with AGENT, VM_DIR and the helpers of guest-lib.sh) in
    /// <see cref="Share"/>, powers off. Returns the script's exit code and the console.
    /// </summary>
    public async Task<(int ExitCode, string Console)> RunAsync(string script, int timeoutSeconds = 600)
    {
        await File.WriteAllTextAsync(Path.Combine(Share, "run.sh"), GuestScript(script));
        var (code, stdout, stderr) = await Task.Run(() => Commands.TryRun("bash", Path.Combine(VmDir, "dropboard-vm.sh"), "run", Share, timeoutSeconds.ToString()));
        var console = File.Exists(Path.Combine(Share, "console.log")) ? await File.ReadAllTextAsync(Path.Combine(Share, "console.log")) : "";
        Keep(console);
        if (code == 2 && stderr.Contains("dropboard-vm:", StringComparison.Ordinal))
            Assert.Fail($"the test VM did not run the script: {stderr.Trim()}\n{stdout}");
        return (code, console);
    }

    /// <summary>
    /// One boot for several tests (an emulated boot and each agent start cost seconds): each section runs, one after
    /// the other, as its own script in a directory of its own under <see cref="Share"/>, with its own time limit, and
    /// what it leaves behind (processes, network namespaces, a drop monitor still on) is cleared before the next, so a
    /// section that fails spoils no other (guest-lib.sh's run_section).
    /// </summary>
    public async Task<IReadOnlyDictionary<string, TestVmSection>> RunSectionsAsync(IReadOnlyList<(string Name, string Script)> sections, int sectionSeconds = 600)
    {
        foreach (var (name, script) in sections)
        {
            Directory.CreateDirectory(Path.Combine(Share, name));
            await File.WriteAllTextAsync(Path.Combine(Share, name, "run.sh"), GuestScript(script));
        }
        var (_, console) = await RunAsync(string.Concat(sections.Select(s => $"run_section {s.Name} {sectionSeconds}\n")),
            BootSeconds + sections.Count * (sectionSeconds + 30));
        return sections.ToDictionary(s => s.Name, s => new TestVmSection(Path.Combine(Share, s.Name), console));
    }

    // Boot and power-off around the script, emulated on a busy machine.
    private const int BootSeconds = 120;

    private string GuestScript(string script)
    {
        var agent = $"{(QuickJit ? "env DOTNET_TieredCompilation=1 " : "")}{Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "/usr/bin/dotnet"} {Path.Combine(AppContext.BaseDirectory, "dropboard-agent.dll")}";
        return $"AGENT='{agent}'\nVM_DIR='{VmDir}'\n. \"$VM_DIR/guest-lib.sh\"\n{script}\n";
    }

    /// <summary>A file the script wrote; a missing one reads as a note saying so (the assertion on it then fails readably).</summary>
    public string Read(string file) => File.Exists(PathOf(file)) ? File.ReadAllText(PathOf(file)) : $"({file} was not written)";

    public string PathOf(string file) => Path.Combine(Share, file);

    // CI keeps each VM's console for the record (DROPBOARD_TEST_ARTEFACTS).
    private void Keep(string console)
    {
        if (Environment.GetEnvironmentVariable("DROPBOARD_TEST_ARTEFACTS") is not { Length: > 0 } artefacts) return;
        Directory.CreateDirectory(artefacts);
        File.WriteAllText(Path.Combine(artefacts, $"vm-{Path.GetFileName(Share)}-console.log"), console);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Share, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>One section of a shared boot (<see cref="TestVm.RunSectionsAsync"/>): its directory, exit code and output.</summary>
public sealed class TestVmSection(string directory, string console)
{
    /// <summary>The section script's exit code; -1 when it did not finish (the VM ended first).</summary>
    public int ExitCode => int.TryParse(Read("exit-code").Trim(), out var code) ? code : -1;

    /// <summary>What the section printed, then the VM's console: enough to see why a section failed.</summary>
    public string Output => $"section {Path.GetFileName(directory)}, exit {ExitCode} after {Read("seconds").Trim()} s:\n{Read("output")}\n--- VM console:\n{console}";

    /// <summary>A file the section wrote; a missing one reads as a note saying so (the assertion on it then fails readably).</summary>
    public string Read(string file) => File.Exists(PathOf(file)) ? File.ReadAllText(PathOf(file)) : $"({file} was not written)";

    public string PathOf(string file) => Path.Combine(directory, file);
}
