using Photon.Kernel.Diagnostics.Metrics;
using Photon.Kernel.Drivers.Block;

namespace Photon.Kernel.Diagnostics.Tracing;

/// <summary>Block I/O trace point and metrics: one X span per request from submission to completion (its latency),
/// and the operation, byte and latency counters. The submission is timestamped only when tracing or a latency
/// listener is on.</summary>
internal static class BlockIoProbe
{
    public static long Submitted() => KernelTrace.Enabled || KernelMetrics.BlockLatencyEnabled ? KernelTrace.Now : 0;

    public static void Completed(long submitted, in BlockCommand command, string device, bool ok)
    {
        long bytes = command.Op switch { BlockOp.Read => command.ReadBuffer.Length, BlockOp.Write => command.WriteData.Length, _ => 0 };
        var (point, op) = command.Op switch
        {
            BlockOp.Read => (TracePoint.BlockRead, "read"),
            BlockOp.Write => (TracePoint.BlockWrite, "write"),
            _ => (TracePoint.BlockFlush, "flush"),
        };
        if (KernelTrace.Enabled && submitted != 0) KernelTrace.Complete(point, submitted, bytes, ok ? 0 : 1, device);
        KernelMetrics.BlockCompleted(op, ok ? bytes : 0, submitted);
    }
}
