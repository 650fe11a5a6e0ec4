using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Hal.Host;

/// <summary>Host-timer implementation of <see cref="IKernelTimers"/> (the .NET timer queue), and of
/// <see cref="IInlineTimers"/> on the host's one inline timer thread (<see cref="HostInlineTimerThread"/>).</summary>
public sealed class HostTimers(IClock clock) : IKernelTimers, IInlineTimers
{
    public TimeSpan Now => clock.Monotonic;
    public Task Delay(TimeSpan due, CancellationToken cancellationToken = default) =>
        Task.Delay(due < TimeSpan.Zero ? TimeSpan.Zero : due, cancellationToken);

    public Task DelayInline(TimeSpan due, CancellationToken cancellationToken = default) =>
        HostInlineTimerThread.Delay(due, cancellationToken);
}
