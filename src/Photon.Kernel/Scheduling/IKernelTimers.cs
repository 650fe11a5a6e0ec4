namespace Photon.Kernel.Scheduling;

/// <summary>
/// Kernel timers: what protocol and driver code awaits for timeouts (TCP RTO, ARP ageing, I/O deadlines).
/// The scheduler implements it with its own timer queue; <see cref="Hal.Host.HostTimers"/> is a host-timer version
/// for code that runs before the scheduler is up.
/// </summary>
public interface IKernelTimers
{
    /// <summary>Monotonic time now.</summary>
    TimeSpan Now { get; }

    /// <summary>Completes after <paramref name="due"/>; cancelled with <see cref="OperationCanceledException"/>.</summary>
    Task Delay(TimeSpan due, CancellationToken cancellationToken = default);
}
