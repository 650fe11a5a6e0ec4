using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;
using Photon.Kernel.Scheduling;

namespace Photon.Coyote;

/// <summary>
/// The scheduler's <see cref="Waker"/> (the auto-reset event kernel tasks await for readiness) with wake, wait and
/// cancellation racing. Invariant (no lost wakeup, no double delivery): every Wake is delivered exactly once — to
/// one waiter, or kept as the pending signal — and a cancelled wait never consumes one; no waiter stays queued
/// while the waker is signaled.
/// </summary>
public static class WakerRaceTests
{
    [Test]
    public static async Task WakeRacingWaitAndCancel_IsDeliveredExactlyOnce()
    {
        InterleavingPoints.Enable();
        var waker = new Waker();
        using var cts = new CancellationTokenSource();
        var waiter = Task.Run(async () =>
        {
            try { await waker.WaitAsync(cts.Token); return true; }
            catch (OperationCanceledException) { return false; }
        });
        var waking = Task.Run(waker.Wake);
        var cancelling = Task.Run(cts.Cancel);
        await waking; await cancelling;
        bool woken = await waiter;
        int delivered = (woken ? 1 : 0) + (waker.IsSignaled ? 1 : 0);
        Specification.Assert(delivered == 1, $"one wake delivered {delivered} times (woken {woken}, signaled {waker.IsSignaled})");
        Specification.Assert(waker.Waiters == 0, $"{waker.Waiters} waiters left queued");
    }

    [Test]
    public static async Task OneWakeTwoWaitersOneCancelled_GoesToExactlyOne()
    {
        InterleavingPoints.Enable();
        var waker = new Waker();
        using var cts = new CancellationTokenSource();
        Task? cancellable = null, plain = null; // waits from host threads are Task-backed: AsTask returns that Task
        // Each task only starts its wait (WaitAsync returns the pending wait); completion is synchronous with the
        // Wake/cancel that completes it, so after the joins the outcome is final.
        var a = Task.Run(() => { cancellable = waker.WaitAsync(cts.Token).AsTask(); });
        var b = Task.Run(() => { plain = waker.WaitAsync().AsTask(); });
        var wake = Task.Run(waker.Wake);
        var cancel = Task.Run(cts.Cancel);
        await a; await b; await wake; await cancel;
        bool cancellableWoken = cancellable!.IsCompletedSuccessfully;
        bool plainWoken = plain!.IsCompletedSuccessfully;
        Specification.Assert(cancellable.IsCompleted, "a cancelled wait is still pending");
        int delivered = (cancellableWoken ? 1 : 0) + (plainWoken ? 1 : 0) + (waker.IsSignaled ? 1 : 0);
        Specification.Assert(delivered == 1, $"one wake delivered {delivered} times");
        Specification.Assert(!(waker.IsSignaled && !plain.IsCompleted), "lost wakeup: a waiter is queued while the waker is signaled");
        Specification.Assert(waker.Waiters == (plain.IsCompleted ? 0 : 1), $"{waker.Waiters} waiters queued");
    }
}
