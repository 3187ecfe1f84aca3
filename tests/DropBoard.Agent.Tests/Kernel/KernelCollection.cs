namespace DropBoard.Agent.Tests.Kernel;

/// <summary>Tests that make or count real kernel drops: never in parallel with each other.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KernelCollection
{
    public const string Name = "kernel";
}
