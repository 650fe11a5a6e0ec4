namespace Photon.Kernel.Scheduling;

/// <summary>
/// Optional beside <see cref="IKernelTimers"/>: a delay whose awaiter resumes on the timer's own thread, for short
/// periodic work (the network stack's tick) that should not wake a pool thread. On the .NET thread pool every timer
/// callback is a work item, and a woken worker spins in sched_yield before it sleeps again: on a 2-core host that
/// spinning cost the TCP round trip more CPU than the round trip itself (issue #11, tcp15). Continuations run on the
/// timer's thread, so they must be short and must never block on another timer; a long one delays only the waiters of
/// the same timer owner (the host gives each <c>HostTimers</c> its own thread, tcp16).
/// </summary>
public interface IInlineTimers
{
    /// <summary>Completes after <paramref name="due"/> on the timer thread; cancelled with <see cref="OperationCanceledException"/>.</summary>
    Task DelayInline(TimeSpan due, CancellationToken cancellationToken = default);
}
