using System.Runtime.CompilerServices;

namespace Photon.Kernel.Diagnostics;

/// <summary>
/// Where the systematic concurrency tests (tests/Photon.Coyote) may switch tasks inside a kernel call: between one
/// locked section and the next, where another caller can really get in. The kernel's locks are
/// <see cref="System.Threading.Lock"/>, which Coyote 1.7.11 does not control, so without these points Coyote could
/// only interleave whole calls. Points sit outside locks only (a task paused while holding a real lock would block
/// a task Coyote runs next).
/// Costs nothing in production: <see cref="Hook"/> is a static readonly field that is null unless the process set
/// the AppContext switch before first use, and the tier-1 JIT folds the null check away with the call.
/// </summary>
internal static class InterleavingSeam
{
    /// <summary>The AppContext data name the Coyote tests set to an <see cref="Action"/> (SchedulingPoint.Interleave).</summary>
    internal const string SwitchName = "Photon.Kernel.InterleavingSeam";

    private static readonly Action? Hook = AppContext.GetData(SwitchName) as Action;

    /// <summary>A point where a concurrent caller may run.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void Point()
    {
        if (Hook is not null) Hook();
    }
}
