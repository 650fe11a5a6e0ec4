using System.Runtime.CompilerServices;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

/// <summary>
/// The spawn counter, written by every spawn, shares no cache line (nor the line paired with it) with the scheduler
/// fields every CPU reads after every item or writes when it idles: unpadded, each spawn took those lines away from
/// the CPUs running the earlier spawns.
/// </summary>
public sealed class SchedulerFieldLayoutTests
{
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_spawnCount")]
    private static extern ref PaddedCounter SpawnCount(KernelScheduler s);
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_lastMonitorTicks")]
    private static extern ref long LastMonitorTicks(KernelScheduler s);
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_starvationTicks")]
    private static extern ref long StarvationTicks(KernelScheduler s);
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_idle")]
    private static extern ref int Idle(KernelScheduler s);
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_searching")]
    private static extern ref int Searching(KernelScheduler s);
    [UnsafeAccessor(UnsafeAccessorKind.Field, Name = "_completed")]
    private static extern ref long Completed(KernelScheduler s);

    [Fact]
    public void The_spawn_counter_is_at_least_128_bytes_from_the_fields_the_cpus_touch_per_item()
    {
        // Layout only: no constructor needed (and no CPUs started).
        var s = (KernelScheduler)RuntimeHelpers.GetUninitializedObject(typeof(KernelScheduler));
        ref long counter = ref SpawnCount(s).Value;
        var near = new List<string>();
        foreach (var (name, offset) in new[]
        {
            ("_lastMonitorTicks", Unsafe.ByteOffset(ref counter, ref LastMonitorTicks(s))),
            ("_starvationTicks", Unsafe.ByteOffset(ref counter, ref StarvationTicks(s))),
            ("_completed", Unsafe.ByteOffset(ref counter, ref Completed(s))),
            ("_idle", Unsafe.ByteOffset(ref counter, ref Unsafe.As<int, long>(ref Idle(s)))),
            ("_searching", Unsafe.ByteOffset(ref counter, ref Unsafe.As<int, long>(ref Searching(s)))),
        })
            if (Math.Abs((long)offset) < 128) near.Add($"{name} at {offset}");
        Assert.True(near.Count == 0, $"within 128 bytes of the spawn counter: {string.Join(", ", near)}");
    }
}
