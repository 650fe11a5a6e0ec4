namespace Photon.Kernel.Scheduling;

/// <summary>
/// PhotonKernel timers: what protocol and driver code awaits for timeouts (TCP RTO, ARP ageing, I/O deadlines).
/// The scheduler implements it with its own timer queue; the host backend's <c>HostTimers</c> is a host-timer version
/// for code that runs without a scheduler.
/// </summary>
public interface IKernelTimers
{
    /// <summary>Monotonic time now.</summary>
    TimeSpan Now { get; }

    /// <summary>Completes after <paramref name="due"/>; cancelled with <see cref="OperationCanceledException"/>.</summary>
    Task Delay(TimeSpan due, CancellationToken cancellationToken = default);
}
