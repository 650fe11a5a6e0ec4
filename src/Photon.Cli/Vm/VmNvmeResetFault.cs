using Photon.Kernel;
using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Scheduling;

namespace Photon.Cli.Vm;

/// <summary>
/// Fault test on QEMU's real NVMe controller (run.sh --faults plugs a second, scratch one for it, so the ext4 disk is
/// never at risk, and throttles its writes to a few per second so a burst stays in the device): queue a burst of
/// writes, wait for the first acknowledgement, reset the controller (CC.EN=0, the driver's hung-command path) while the
/// rest are in flight, and check the promise the driver makes: every write either was acknowledged and reads back
/// identical after the reset, or failed with a typed error — nothing acknowledged is lost, nothing hangs — and the
/// controller serves I/O again afterwards.
/// </summary>
public static class VmNvmeResetFault
{
    public const int Writes = 64;
    internal const int BytesPerWrite = 16 * 1024;

    public sealed record Outcome(int InFlightAtReset, int Acknowledged, int Failed, IReadOnlyDictionary<ErrorCode, int> FailedBy, int ReadBackIdentical,
        long Resets, bool ServesAfterReset);

    public static async Task<Result<Outcome>> RunAsync(IPciBus bus, PciAddress address, IKernelTimers timers)
    {
        var function = bus.Open(address);
        if (!function.IsOk) return function.Error;
        var started = await NvmeController.StartAsync(function.Value, timers, new NvmeDriverOptions(IoQueues: 2, QueueEntries: 32));
        if (!started.TryGet(out var controller)) return started.Error;
        await using var _ = controller;
        int blocks = BytesPerWrite / controller.BlockSize;
        if ((long)Writes * blocks > controller.BlockCount) return Errors.Of(ErrorCode.OutOfRange, "the scratch NVMe disk is too small");

        // The burst is submitted (doorbells rung) before the reset is asked for; the throttled device still holds most
        // of it when CC.EN drops after the first acknowledgement.
        var writes = new Task<Result>[Writes];
        for (int i = 0; i < Writes; i++) writes[i] = controller.WriteAsync((long)i * blocks, Pattern(i, 1), default).AsTask();
        await Task.WhenAny(writes);
        int inFlight = writes.Count(w => !w.IsCompleted);
        var reset = await controller.ResetAsync("fault test: reset while writes are in flight");
        if (!reset.IsOk) return reset.Error;
        var outcomes = await Task.WhenAll(writes);

        int acknowledged = 0, identical = 0;
        var failedBy = new Dictionary<ErrorCode, int>();
        var back = new byte[BytesPerWrite];
        for (int i = 0; i < Writes; i++)
        {
            if (!outcomes[i].IsOk) { failedBy[outcomes[i].Code] = failedBy.GetValueOrDefault(outcomes[i].Code) + 1; continue; }
            acknowledged++;
            var read = await controller.ReadAsync((long)i * blocks, back, default);
            if (read.IsOk && back.AsSpan().SequenceEqual(Pattern(i, 1))) identical++;
        }
        // After the reset the queues were rebuilt: a fresh write and read must work.
        var again = await controller.WriteAsync(0, Pattern(0, 2), default);
        var againBack = again.IsOk ? await controller.ReadAsync(0, back, default) : again;
        bool serves = againBack.IsOk && back.AsSpan().SequenceEqual(Pattern(0, 2));
        return new Outcome(inFlight, acknowledged, Writes - acknowledged, failedBy, identical, controller.Resets, serves);
    }

    /// <summary>A block's content names its write and wave, so a misplaced or stale block cannot pass for it.</summary>
    internal static byte[] Pattern(int write, int wave)
    {
        var data = new byte[BytesPerWrite];
        for (int j = 0; j < data.Length; j++) data[j] = (byte)(write * 31 + wave * 7 + j / 512);
        return data;
    }
}
