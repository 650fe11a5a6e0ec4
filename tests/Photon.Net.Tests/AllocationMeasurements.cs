namespace Photon.Net.Tests;

/// <summary>Tests that bound allocation with the process-wide counter (GC.GetTotalAllocatedBytes) run alone: another
/// test class running beside them would have its allocations counted against the stack under test. Tests whose
/// outcome depends on a measured round-trip time (the tail loss probe) run here too, for the same reason.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class AllocationMeasurements
{
    public const string Name = "allocation measurements";
}
