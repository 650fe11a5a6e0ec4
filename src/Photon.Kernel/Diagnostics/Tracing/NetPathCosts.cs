using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>Phases of the send path whose time <see cref="NetPathCosts"/> adds up.</summary>
public enum NetPathCost : byte
{
    /// <summary>Copying a send's bytes into the socket's send buffer (by the writer or taken from its parked send).</summary>
    SendBufferCopy,
    /// <summary>Copying a frame (headers and payload) into the transmit queue's DMA slots.</summary>
    DmaSlotCopy,
    /// <summary>Notifying the device of published transmit descriptors (an MMIO write: a VM exit).</summary>
    TxKick,
    /// <summary>Allocating and prefaulting larger send-buffer storage outside the lock.</summary>
    StorageAllocate,
    /// <summary>Moving the send buffer's contents into adopted storage (under the lock).</summary>
    StorageAdopt,
}

/// <summary>
/// Time and bytes per send-path phase (issue #17, vm17: where the sending guest's time goes — copy ns/byte against
/// kicks and storage growth), summed while <see cref="NetPathTimeline"/> records and printed beside it by the VM's
/// netbench. Off with the timeline: <see cref="Begin"/> then returns 0 and <see cref="End"/> does nothing.
/// </summary>
public static class NetPathCosts
{
    private const int Phases = (int)NetPathCost.StorageAdopt + 1;
    private static readonly long[] s_ticks = new long[Phases], s_bytes = new long[Phases], s_calls = new long[Phases];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long Begin() => NetPathTimeline.Enabled ? Stopwatch.GetTimestamp() : 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void End(NetPathCost phase, long began, long bytes)
    {
        if (began == 0) return;
        long ticks = Stopwatch.GetTimestamp() - began;
        Interlocked.Add(ref s_ticks[(int)phase], ticks);
        Interlocked.Add(ref s_bytes[(int)phase], bytes);
        Interlocked.Increment(ref s_calls[(int)phase]);
    }

    private static (int Gen0, int Gen1, int Gen2, TimeSpan Paused, long Allocated) s_gcAtReset;

    private static (int, int, int, TimeSpan, long) Gc() =>
        (GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), GC.GetTotalPauseDuration(), GC.GetTotalAllocatedBytes());

    public static void Reset()
    {
        s_gcAtReset = Gc();
        for (int i = 0; i < Phases; i++)
        {
            Interlocked.Exchange(ref s_ticks[i], 0);
            Interlocked.Exchange(ref s_bytes[i], 0);
            Interlocked.Exchange(ref s_calls[i], 0);
        }
    }

    /// <summary>One line per phase that ran: calls, total ms, bytes and ns per byte.</summary>
    public static IEnumerable<string> Summary()
    {
        for (int i = 0; i < Phases; i++)
        {
            long calls = Interlocked.Read(ref s_calls[i]);
            if (calls == 0) continue;
            double ms = Interlocked.Read(ref s_ticks[i]) * 1e3 / Stopwatch.Frequency;
            long bytes = Interlocked.Read(ref s_bytes[i]);
            string perByte = bytes > 0 ? $", {ms * 1e6 / bytes:0.00} ns/B ({bytes / (ms * 1e3):0} MB/s)" : "";
            yield return $"cost: {(NetPathCost)i} {calls} calls, {ms:0.0} ms, {bytes} B{perByte}";
        }
        // The collector stops every thread, the stack's too: its pauses are the send path's as much as any phase's.
        var (g0, g1, g2, paused, allocated) = Gc();
        var was = s_gcAtReset;
        yield return $"cost: GC since the timeline started: {g0 - was.Gen0}/{g1 - was.Gen1}/{g2 - was.Gen2} collections (gen0/1/2), " +
            $"{(paused - was.Paused).TotalMilliseconds:0.0} ms paused, {(allocated - was.Allocated) >> 20} MiB allocated";
    }
}
