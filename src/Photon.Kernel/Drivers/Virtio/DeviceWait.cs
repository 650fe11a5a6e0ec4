using Photon.Kernel.Hal.Pci;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Drivers.Virtio;

/// <summary>How a driver sleeps until its device may have made progress: an MSI-X vector where the platform gives one,
/// otherwise a short timer tick (polling mode). Either way the driver polls its rings after waking, so a spurious or
/// merged wake-up costs one poll and a lost one at most a tick.</summary>
public sealed class DeviceWait(IDeviceInterrupt? interrupt, IKernelTimers timers, TimeSpan pollInterval)
{
    private long _wakeups;

    public bool Polling => interrupt is null;

    /// <summary>Sleeps that ended (an interrupt or a poll tick): each one is a thread wake-up, and with MSI-X an
    /// emulated interrupt.</summary>
    public long Wakeups => Interlocked.Read(ref _wakeups);

    /// <summary>Sleeps until the device may have made progress. Returns what ended the sleep: 1 an interrupt, 2 a poll
    /// tick, 0 an interrupt that had already been signalled (no sleep at all).</summary>
    public async ValueTask<int> WaitAsync(CancellationToken ct)
    {
        int woke = await SleepAsync(ct).ConfigureAwait(false);
        Interlocked.Increment(ref _wakeups);
        return woke;
    }

    private async ValueTask<int> SleepAsync(CancellationToken ct)
    {
        if (interrupt is null)
        {
            await timers.Delay(pollInterval, ct).ConfigureAwait(false);
            return 2;
        }
        var signalled = interrupt.WaitAsync(ct);
        if (signalled.IsCompleted) { await signalled.ConfigureAwait(false); return 0; }
        await signalled.ConfigureAwait(false);
        return 1;
    }
}
