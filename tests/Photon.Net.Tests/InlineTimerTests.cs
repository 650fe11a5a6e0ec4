using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Net.Tests;

/// <summary>
/// <see cref="IInlineTimers"/> on the host (tcp15): delays complete on a hal-timer thread, not on a pool thread,
/// in due order, cancel typed, and none is lost when many are armed and cancelled from several threads at once; the
/// network stack's tick runs there. Each <see cref="HostTimers"/> has its own thread (tcp16): one owner's continuation
/// that does not return holds none of another owner's delays, and a thread with nothing left to wait for ends. Outcomes and threads, never times (timeouts only turn a hang into a failure).
/// </summary>
public sealed class InlineTimerTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private readonly HostTimers _timers = new(new HostClock());

    [Fact]
    public async Task Delays_resume_their_awaiter_on_the_timer_thread_in_due_order()
    {
        var order = new List<int>();
        var threads = new List<(string? Name, bool Pool)>();
        async Task Wait(int ms)
        {
            await _timers.DelayInline(TimeSpan.FromMilliseconds(ms)).ConfigureAwait(false); // no xunit context: resume where completed
            lock (order) { order.Add(ms); threads.Add((Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread)); }
        }
        // Not 0 ms: a delay that completes before its caller reaches the await (due at once, or the caller preempted on a
        // loaded machine) does not yield, and its continuation runs on the caller's thread.
        await Task.WhenAll(Wait(400), Wait(300), Wait(200)).WaitAsync(Patience);
        Assert.Equal([200, 300, 400], order);
        Assert.All(threads, t => Assert.Equal(("hal-timer", false), t));
    }

    [Fact]
    public async Task A_cancelled_delay_ends_with_OperationCanceledException_and_a_cancelled_token_never_waits()
    {
        using var cts = new CancellationTokenSource();
        var longWait = _timers.DelayInline(TimeSpan.FromHours(1), cts.Token);
        Assert.False(longWait.IsCompleted);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => longWait.WaitAsync(Patience));
        var already = _timers.DelayInline(TimeSpan.FromMilliseconds(1), cts.Token);
        Assert.True(already.IsCanceled);
        // The timer thread still serves later delays after the cancelled one reaches the top of its heap.
        await _timers.DelayInline(TimeSpan.FromMilliseconds(5)).WaitAsync(Patience);
    }

    [Fact]
    public async Task Many_delays_armed_and_cancelled_from_several_threads_all_end_and_none_is_lost()
    {
        const int perThread = 250;
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 4).Select(seed => Task.Run(async () =>
        {
            var random = new Random(seed);
            var waits = new List<(Task Task, CancellationTokenSource? Cts)>();
            for (int i = 0; i < perThread; i++)
            {
                var cts = random.Next(2) == 0 ? new CancellationTokenSource() : null;
                waits.Add((_timers.DelayInline(TimeSpan.FromMilliseconds(random.Next(0, 20)), cts?.Token ?? default), cts));
                if (random.Next(4) == 0 && waits[random.Next(waits.Count)].Cts is { } victim) victim.Cancel();
            }
            foreach (var (_, cts) in waits) if (cts is not null && random.Next(2) == 0) cts.Cancel();
            int completed = 0, cancelled = 0;
            foreach (var (task, cts) in waits)
            {
                try { await task.WaitAsync(Patience); completed++; }
                catch (OperationCanceledException) { cancelled++; Assert.True(cts?.IsCancellationRequested, "a delay without a cancelled token was cancelled"); }
            }
            foreach (var (_, cts) in waits) cts?.Dispose();
            return (completed, cancelled);
        }))).WaitAsync(Patience);
        Assert.Equal(4 * perThread, outcomes.Sum(o => o.completed + o.cancelled));
        Assert.True(outcomes.Sum(o => o.completed) > 0);
    }

    [Fact]
    public async Task The_network_stack_ticks_on_the_timer_thread_not_on_a_pool_thread()
    {
        await using var stack = new NetworkStack(_timers);
        var seen = new List<(string? Name, bool Pool)>();
        var three = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        stack.Ticked += () =>
        {
            lock (seen)
            {
                seen.Add((Thread.CurrentThread.Name, Thread.CurrentThread.IsThreadPoolThread));
                if (seen.Count == 3) three.TrySetResult();
            }
        };
        stack.Start();
        await three.Task.WaitAsync(Patience);
        // The first tick may run on the thread that started the stack: a 10 ms delay armed there completes before its
        // await when that thread is preempted that long (a loaded machine); every later one is armed on the timer thread.
        lock (seen) Assert.All(seen.Skip(1), t => Assert.Equal(("hal-timer", false), t));
    }

    [Fact]
    public async Task A_continuation_that_does_not_return_holds_no_other_owners_delay()
    {
        var other = new HostTimers(new HostClock());
        using var running = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        Thread? slowThread = null, otherThread = null;
        var slow = Task.Run(async () =>
        {
            await _timers.DelayInline(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
            slowThread = Thread.CurrentThread;
            running.Set();
            release.Wait(Patience); // a tick stuck behind its stack's lock, say: this owner's thread is held
        });
        try
        {
            Assert.True(running.Wait(Patience));
            async Task OtherOwner()
            {
                await other.DelayInline(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
                otherThread = Thread.CurrentThread;
            }
            // One shared thread would hold this until release. A delay that ran out before its caller reached the await
            // resumes on the caller (no timer thread to see): such an attempt is tried again.
            for (int attempt = 0; attempt < 5 && otherThread?.Name != "hal-timer"; attempt++)
                await OtherOwner().WaitAsync(Patience);
            Assert.False(slow.IsCompleted);
            Assert.Equal("hal-timer", slowThread!.Name);
            Assert.NotSame(slowThread, otherThread);
            Assert.Equal("hal-timer", otherThread!.Name);
        }
        finally { release.Set(); }
        await slow.WaitAsync(Patience);
    }

    [Fact]
    public async Task An_owner_left_with_only_cancelled_delays_ends_its_thread_and_a_later_delay_starts_another()
    {
        var timers = new HostTimers(new HostClock());
        async Task<Thread> ThreadOfADelay()
        {
            await timers.DelayInline(TimeSpan.FromMilliseconds(200)).ConfigureAwait(false);
            return Thread.CurrentThread;
        }
        var first = await ThreadOfADelay().WaitAsync(Patience);
        Assert.Equal("hal-timer", first.Name);
        using var cts = new CancellationTokenSource();
        var longWait = timers.DelayInline(TimeSpan.FromHours(1), cts.Token); // would keep the thread for an hour
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => longWait.WaitAsync(Patience));
        await WaitUntil(() => !first.IsAlive);
        var second = await ThreadOfADelay().WaitAsync(Patience);
        Assert.NotSame(first, second);
        Assert.Equal("hal-timer", second.Name);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not reached within the test's patience");
            await Task.Delay(20);
        }
    }
}
