using System.Diagnostics;

namespace Photon.Kernel.Hal.Host;

/// <summary>
/// The host's one inline timer thread (<see cref="Photon.Kernel.Scheduling.IInlineTimers"/>): a background thread,
/// started on first use, that sleeps until the earliest due waiter and completes it on itself, so the awaiter resumes
/// here without a thread-pool work item. Waiters are kept in a min-heap by due time; a cancelled waiter is completed
/// at once (on the cancelling thread) and dropped when it reaches the top.
/// </summary>
internal static class HostInlineTimerThread
{
    private static readonly PriorityQueue<Waiter, long> s_due = new();
    private static readonly object s_gate = new(); // Monitor.Wait/Pulse, so not a Lock
    private static Thread? s_thread;

    /// <summary>A waiter and its cancellation registration, released when the timer completes it.</summary>
    private sealed class Waiter(CancellationToken token) : TaskCompletionSource
    {
        public readonly CancellationToken Token = token;
        public CancellationTokenRegistration Registration;
    }

    /// <summary>Completes after <paramref name="due"/> on the timer thread.</summary>
    public static Task Delay(TimeSpan due, CancellationToken ct)
    {
        if (ct.IsCancellationRequested) return Task.FromCanceled(ct);
        // No RunContinuationsAsynchronously: the awaiter resumes on the timer thread, which is the point.
        var waiter = new Waiter(ct);
        if (ct.CanBeCanceled)
            waiter.Registration = ct.Register(static w => ((Waiter)w!).TrySetCanceled(((Waiter)w!).Token), waiter);
        long at = Stopwatch.GetTimestamp() + (long)(Math.Max(0, due.TotalSeconds) * Stopwatch.Frequency);
        lock (s_gate)
        {
            s_due.Enqueue(waiter, at);
            if (s_thread is null)
            {
                s_thread = new Thread(Run) { IsBackground = true, Name = "hal-timer" };
                s_thread.Start();
            }
            Monitor.Pulse(s_gate); // it may be sleeping towards a later waiter
        }
        return waiter.Task;
    }

    private static void Run()
    {
        var ready = new List<Waiter>();
        while (true)
        {
            lock (s_gate)
            {
                while (true)
                {
                    long now = Stopwatch.GetTimestamp();
                    while (s_due.TryPeek(out var w, out long at) && (at <= now || w.Task.IsCompleted))
                    {
                        s_due.Dequeue();
                        if (!w.Task.IsCompleted) ready.Add(w);
                        else w.Registration.Unregister(); // cancelled: its callback ran (or runs) already
                    }
                    if (ready.Count > 0) break;
                    if (s_due.TryPeek(out _, out long next))
                        Monitor.Wait(s_gate, (int)Math.Min(int.MaxValue, ((next - now) * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency));
                    else Monitor.Wait(s_gate);
                }
            }
            // Outside the lock: continuations run here and may arm the next delay.
            foreach (var w in ready)
            {
                w.Registration.Unregister(); // never waits for a callback racing on another thread
                w.TrySetResult();
            }
            ready.Clear();
        }
    }
}
