namespace Photon.Net.Tests;

/// <summary>Tests that bound allocation with the process-wide counter (GC.GetTotalAllocatedBytes) run alone: another
/// test class running beside them would have its allocations counted against the stack under test.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationMeasurements
{
    public const string Name = "allocation measurements";
}
