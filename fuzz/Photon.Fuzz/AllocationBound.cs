namespace Photon.Fuzz;

/// <summary>
/// Bounds what one input may allocate, so an allocation sized by hostile input is a finding rather than a slow run
/// AFL might not notice (it runs with -m none: the .NET runtime reserves far more address space than it uses).
/// </summary>
internal static class AllocationBound
{
    public static void Run(string target, long maxBytes, Action run)
    {
        long before = GC.GetTotalAllocatedBytes();
        run();
        long used = GC.GetTotalAllocatedBytes() - before;
        if (used > maxBytes) throw new FuzzFinding($"{target}: one input allocated {used:N0} bytes (bound {maxBytes:N0})");
    }
}
