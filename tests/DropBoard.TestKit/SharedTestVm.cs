namespace DropBoard.TestKit;

/// <summary>
/// A class fixture for tests that share one boot of the <see cref="TestVm"/>: the first test to ask for its section
/// boots the VM and runs every section (after that test's <see cref="TestVm.Require"/>, so a laptop without qemu skips
/// and boots nothing); each test then asserts on its own section. A VM that cannot boot fails every test with the reason.
/// Its agent runs with <see cref="TestVm.QuickJit"/>.
/// </summary>
public abstract class SharedTestVm : IDisposable
{
    private readonly TestVm _vm = new() { QuickJit = true };
    private readonly Lazy<Task<IReadOnlyDictionary<string, TestVmSection>>> _run;

    protected SharedTestVm(params (string Name, string Script)[] sections) =>
        _run = new(() => _vm.RunSectionsAsync(sections));

    public async Task<TestVmSection> SectionAsync(string name) => (await _run.Value)[name];

    public void Dispose() => _vm.Dispose();
}
