using System.Runtime.InteropServices;

namespace Photon.Kernel.Scheduling;

/// <summary>
/// A counter alone on its cache lines (128 bytes either side, for CPUs that fetch lines in pairs). The spawn counter
/// is written by every spawn; unpadded it shared a line with fields every CPU reads after every item (the starvation
/// threshold, the last monitor time, the coarse-clock lag), so each spawn from the spawner's core took that line away
/// from the CPUs running the previous spawns, and each of their reads took it back.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 264)]
internal struct PaddedCounter
{
    [FieldOffset(128)] public long Value;
}
