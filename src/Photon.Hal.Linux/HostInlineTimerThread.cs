using System.Diagnostics;

namespace Photon.Kernel.Hal.Host;

/// <summary>
/// One timer owner's inline timer thread (<see cref="Photon.Kernel.Scheduling.IInlineTimers"/>): a background thread,
/// started on first use, that sleeps until the owner's earliest due waiter and completes it on itself, so the awaiter
/// resumes here without a thread-pool work item. Each <see cref="HostTimers"/> has its own (tcp16): a continuation that
/// runs long — a tick waiting for its stack's lock behind a big receive burst, a tick over thousands of connections —
/// delays only its own owner's later waiters, never another stack's tick (tcp15 had one thread for the whole process).
/// Waiters are kept in a min-heap by due time; a cancelled waiter is completed at once (on the cancelling thread) and
/// dropped when it reaches the top, or with the rest when no live waiter is left. With none left for
/// <see cref="IdleLinger"/> the thread ends; the next delay starts another.
/// </summary>
internal sealed class HostInlineTimerThread
{
    /// <summary>How long a thread with nothing to wait for stays before it ends (a stack's tick re-arms within one tick,
    /// so a running stack keeps its thread; a disposed one's goes).</summary>
    internal static readonly TimeSpan IdleLinger = TimeSpan.FromSeconds(1);

    private readonly PriorityQueue<Waiter, long> _due = new();
    private readonly object _gate = new(); // Monitor.Wait/Pulse, so not a Lock
    private Thread? _thread;

    /// <summary>A waiter and its cancellation registration, released when the timer completes it.</summary>
    private sealed class Waiter(HostInlineTimerThread owner, CancellationToken token) : TaskCompletionSource
    {
        public readonly HostInlineTimerThread Owner = owner;
        public readonly CancellationToken Token = token;
        public CancellationTokenRegistration Registration;

        /// <summary>Completes it cancelled, and lets its thread look: with no live waiter left it may end.</summary>
        public void Cancel()
        {
            if (!TrySetCanceled(Token)) return;
            lock (Owner._gate) Monitor.Pulse(Owner._gate);
        }
    }

    /// <summary>Completes after <paramref name="due"/> on this owner's timer thread.</summary>
    public Task Delay(TimeSpan due, CancellationToken ct)
    {
        if (ct.IsCancellationRequested) return Task.FromCanceled(ct);
        // No RunContinuationsAsynchronously: the awaiter resumes on the timer thread, which is the point.
        var waiter = new Waiter(this, ct);
        if (ct.CanBeCanceled) waiter.Registration = ct.Register(static w => ((Waiter)w!).Cancel(), waiter);
        long at = Stopwatch.GetTimestamp() + (long)(Math.Max(0, due.TotalSeconds) * Stopwatch.Frequency);
        lock (_gate)
        {
            _due.Enqueue(waiter, at);
            if (_thread is null)
            {
                _thread = new Thread(Run) { IsBackground = true, Name = "hal-timer" };
                _thread.Start();
            }
            Monitor.Pulse(_gate); // it may be sleeping towards a later waiter
        }
        return waiter.Task;
    }

    private bool OnlyCancelledLeft()
    {
        foreach (var (w, _) in _due.UnorderedItems)
            if (!w.Task.IsCompleted) return false;
        return true;
    }

    private void Run()
    {
        var ready = new List<Waiter>();
        while (true)
        {
            lock (_gate)
            {
                while (true)
                {
                    long now = Stopwatch.GetTimestamp();
                    while (_due.TryPeek(out var w, out long at) && (at <= now || w.Task.IsCompleted))
                    {
                        _due.Dequeue();
                        if (!w.Task.IsCompleted) ready.Add(w);
                        else w.Registration.Unregister(); // cancelled: its callback ran (or runs) already
                    }
                    if (ready.Count > 0) break;
                    if (OnlyCancelledLeft())
                    {
                        // Nothing live to wait for: drop the cancelled (their callbacks ran), linger, then end.
                        while (_due.TryDequeue(out var dead, out _)) dead.Registration.Unregister();
                        if (!Monitor.Wait(_gate, IdleLinger) && _due.Count == 0)
                        {
                            _thread = null;
                            return;
                        }
                        continue;
                    }
                    if (_due.TryPeek(out _, out long next))
                        Monitor.Wait(_gate, (int)Math.Min(int.MaxValue, ((next - now) * 1000 + Stopwatch.Frequency - 1) / Stopwatch.Frequency));
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
