using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Hal.Host;

/// <summary>Host-timer implementation of <see cref="IKernelTimers"/> (the .NET timer queue).</summary>
public sealed class HostTimers(IClock clock) : IKernelTimers
{
    public TimeSpan Now => clock.Monotonic;
    public Task Delay(TimeSpan due, CancellationToken cancellationToken = default) =>
        Task.Delay(due < TimeSpan.Zero ? TimeSpan.Zero : due, cancellationToken);
}
