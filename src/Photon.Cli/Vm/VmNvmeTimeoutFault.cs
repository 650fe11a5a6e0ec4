using Photon.Kernel;
using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Scheduling;

namespace Photon.Cli.Vm;

/// <summary>
/// Fault test on QEMU's real NVMe controller: a command timeout without any help from the test. The scratch controller
/// of run.sh --faults has its writes throttled to 8 per second, so a burst of 64 writes keeps most of them inside the
/// device for seconds; with a command timeout of <see cref="Timeout"/> the driver's watchdog must find the oldest one
/// overdue, reset the controller on its own and fail what the device still holds with <c>TimedOut</c>. Every write
/// that was acknowledged must read back, and the controller must serve I/O after the reset. (QEMU 7.2's device never
/// loses a command, so a slow device is the hung command it can give us.)
/// <para>Why the first write after the reset is not the check: QEMU's controller reset (CC.EN 1 → 0,
/// <c>nvme_ctrl_reset</c>) drains the namespace (<c>blk_drain</c>), which lifts the throttle for the writes it still
/// queues but still charges every one of them to the throttle's bucket (<c>throttle_group_co_io_limits_intercept</c>
/// accounts after the wait). The next write then waits inside QEMU until 8/s has paid that debt back — up to
/// <see cref="Writes"/>/8 s, longer than the 2 s timeout — so the watchdog rightly times it out and resets again. Reads
/// are not throttled: one must be served at once after the reset; a write must be served once the debt is paid.</para>
/// </summary>
public static class VmNvmeTimeoutFault
{
    public const int Writes = 64;
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(2);

    /// <summary>How long QEMU's throttle (8 writes/s) needs to pay back every write a reset drained, plus a margin.</summary>
    public static readonly TimeSpan ThrottlePayback = TimeSpan.FromSeconds(Writes / 8.0 + 2);

    /// <summary><paramref name="ReadAfterReset"/>: a read right after the reset; <paramref name="WriteAfterPayback"/>: a
    /// write and its read-back once QEMU's throttle has paid back the drained writes (each null when served, else why not).</summary>
    public sealed record Outcome(int Acknowledged, int Failed, IReadOnlyDictionary<ErrorCode, int> FailedBy, int ReadBackIdentical, long Resets,
        string? ReadAfterReset, string? WriteAfterPayback)
    {
        public bool ServesAfterReset => ReadAfterReset is null && WriteAfterPayback is null;
    }

    public static async Task<Result<Outcome>> RunAsync(IPciBus bus, PciAddress address, IKernelTimers timers)
    {
        var function = bus.Open(address);
        if (!function.IsOk) return function.Error;
        var started = await NvmeController.StartAsync(function.Value, timers, new NvmeDriverOptions(IoQueues: 2, QueueEntries: 32, CommandTimeout: Timeout));
        if (!started.TryGet(out var controller)) return started.Error;
        await using var _ = controller;
        int bytes = VmNvmeResetFault.BytesPerWrite, blocks = bytes / controller.BlockSize;
        if ((long)Writes * blocks > controller.BlockCount) return Errors.Of(ErrorCode.OutOfRange, "the scratch NVMe disk is too small");
        var writes = new Task<Result>[Writes];
        for (int i = 0; i < Writes; i++) writes[i] = controller.WriteAsync((long)i * blocks, VmNvmeResetFault.Pattern(i, 3), default).AsTask();
        var outcomes = await Task.WhenAll(writes);

        int acknowledged = 0, identical = 0;
        var failedBy = new Dictionary<ErrorCode, int>();
        var back = new byte[bytes];
        for (int i = 0; i < Writes; i++)
        {
            if (!outcomes[i].IsOk) { failedBy[outcomes[i].Code] = failedBy.GetValueOrDefault(outcomes[i].Code) + 1; continue; }
            acknowledged++;
            var read = await controller.ReadAsync((long)i * blocks, back, default);
            if (read.IsOk && back.AsSpan().SequenceEqual(VmNvmeResetFault.Pattern(i, 3))) identical++;
        }
        // Served after the reset: a read at once (reads are not throttled), then a write once the throttle's debt is paid.
        var first = await controller.ReadAsync(0, back, default);
        string? readAfter = first.IsOk ? null : first.Error.ToString();
        await timers.Delay(ThrottlePayback);
        var again = await controller.WriteAsync(0, VmNvmeResetFault.Pattern(0, 4), default);
        var againBack = again.IsOk ? await controller.ReadAsync(0, back, default) : again;
        string? writeAfter = !againBack.IsOk ? againBack.Error.ToString()
            : back.AsSpan().SequenceEqual(VmNvmeResetFault.Pattern(0, 4)) ? null : "the write did not read back";
        return new Outcome(acknowledged, Writes - acknowledged, failedBy, identical, controller.Resets, readAfter, writeAfter);
    }
}
