using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Hal.Host;

/// <summary>Host-timer implementation of <see cref="IKernelTimers"/> (the .NET timer queue), and of
/// <see cref="IInlineTimers"/> on an inline timer thread of its own (<see cref="HostInlineTimerThread"/>, started on the
/// first inline delay): stacks on different <c>HostTimers</c> never wait for each other's ticks.</summary>
public sealed class HostTimers(IClock clock) : IKernelTimers, IInlineTimers
{
    public TimeSpan Now => clock.Monotonic;
    public Task Delay(TimeSpan due, CancellationToken cancellationToken = default) =>
        Task.Delay(due < TimeSpan.Zero ? TimeSpan.Zero : due, cancellationToken);

    private readonly HostInlineTimerThread _inline = new();

    public Task DelayInline(TimeSpan due, CancellationToken cancellationToken = default) =>
        _inline.Delay(due, cancellationToken);
}
