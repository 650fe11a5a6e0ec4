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

    public async ValueTask WaitAsync(CancellationToken ct)
    {
        await SleepAsync(ct).ConfigureAwait(false);
        Interlocked.Increment(ref _wakeups);
    }

    private async ValueTask SleepAsync(CancellationToken ct)
    {
        if (interrupt is null) await timers.Delay(pollInterval, ct).ConfigureAwait(false);
        else await interrupt.WaitAsync(ct).ConfigureAwait(false);
    }
}
