using Microsoft.Coyote.Runtime;
using Photon.Kernel.Diagnostics;

namespace Photon.Coyote;

/// <summary>
/// Turns on the kernel's <see cref="InterleavingSeam"/>: each seam point becomes a Coyote scheduling point, so Coyote
/// can switch tasks between the locked sections of one kernel call, not only between whole calls. Must run before
/// any kernel code touches the seam (its hook is read once); every test here calls it first.
/// </summary>
internal static class InterleavingPoints
{
    public static void Enable() => AppContext.SetData(InterleavingSeam.SwitchName, (Action)Point);

    /// <summary>Replaces the Coyote scheduling point with a scripted action (a deterministic replay of a found bug);
    /// null restores exploration. The hook is read once per process and `coyote test` runs one test per process.</summary>
    public static Action? Script { get; set; }

    private static void Point()
    {
        if (Script is { } script) script();
        else SchedulingPoint.Interleave();
    }
}
