using System.Collections.Concurrent;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

/// <summary>
/// <see cref="Waker"/> waits from kernel tasks, which reuse a pooled wait node instead of allocating a promise: a
/// reused node must never deliver a stale wake or cancellation to a later wait, and the waits must resume on the
/// waiting task's kernel CPU.
/// </summary>
[Collection("Scheduler")]
public sealed class WakerPooledWaitTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Ping_pong_through_pooled_waits_resumes_on_kernel_cpus_and_allocates_nothing_per_round_trip()
    {
        // One CPU: both tasks, every wake and every resumption run on its thread, so that thread's allocation count
        // is the whole cost of the round trips (other tests allocate in parallel in this process).
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1));
        var ping = new Waker();
        var pong = new Waker();
        int offCpu = 0;
        async Task<long> RoundTrips(int n)
        {
            var a = s.Spawn(async () =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < n; i++)
                {
                    pong.Wake();
                    await ping.WaitAsync();
                    if (!s.IsKernelThread || KernelTask.Current is null) Interlocked.Increment(ref offCpu);
                }
                return GC.GetAllocatedBytesForCurrentThread() - before;
            }, "ping");
            var b = s.Spawn(async () =>
            {
                for (int i = 0; i < n; i++)
                {
                    await pong.WaitAsync().ConfigureAwait(false); // still resumes on the task's CPU
                    if (!s.IsKernelThread || KernelTask.Current is null) Interlocked.Increment(ref offCpu);
                    ping.Wake();
                }
            }, "pong");
            await b.Completion.Within(Timeout);
            return await a.Completion.Within(Timeout);
        }
        await RoundTrips(1_000); // warm-up: JIT, tiering and the run queue's first growth allocate
        const int N = 20_000;
        long perRoundTrip = await RoundTrips(N) / N;
        Assert.Equal(0, offCpu);
        // A promise per wait was 192 B (384 B per round trip).
        Assert.True(perRoundTrip < 8, $"{perRoundTrip} B allocated per round trip");
        Assert.False(ping.IsSignaled);
        Assert.False(pong.IsSignaled);
    }

    [Fact]
    public async Task Wakes_racing_cancellations_are_delivered_exactly_once_across_node_reuse()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2));
        const int Rounds = 2_000;
        var waker = new Waker();
        int woken = 0, cancelled = 0;
        var waiter = s.Spawn(async () =>
        {
            for (int i = 0; i < Rounds; i++)
            {
                using var cts = new CancellationTokenSource();
                var wait = waker.WaitAsync(cts.Token);
                // Cancel on another thread while the waker is woken from a third: only one of them may win.
                var cancel = Task.Run(cts.Cancel);
                try { await wait; woken++; }
                catch (OperationCanceledException) { cancelled++; }
                await cancel.ConfigureAwait(true);
            }
        }, "waiter");
        var waking = Task.Run(async () =>
        {
            for (int i = 0; i < Rounds; i++) { waker.Wake(); await Task.Yield(); }
        });
        await waking.Within(Timeout);
        await waiter.Completion.Within(Timeout);
        Assert.Equal(Rounds, woken + cancelled);
        // Every wake went to exactly one successful wait or is still the pending signal (at most one, auto-reset).
        int pending = waker.IsSignaled ? 1 : 0;
        Assert.True(woken + pending <= Rounds, $"{woken} woken + {pending} pending > {Rounds} wakes: a wake was delivered twice");
        Assert.True(woken >= 1, "no wait was ever woken");
        Assert.Equal(0, waker.Waiters);
    }

    [Fact]
    public async Task A_waiter_that_reuses_its_node_is_not_cancelled_by_an_earlier_waits_token()
    {
        await using var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2));
        var waker = new Waker();
        using var first = new CancellationTokenSource();
        var results = new ConcurrentQueue<string>();
        var t = s.Spawn(async () =>
        {
            var w1 = waker.WaitAsync(first.Token);
            waker.Wake();
            await w1; // woken; its node goes back to the pool
            results.Enqueue("first woken");
            var w2 = waker.WaitAsync(); // most likely the same node, no token
            first.Cancel(); // the old token must not reach the reused node
            waker.Wake();
            await w2;
            results.Enqueue("second woken");
        }, "reuser");
        await t.Completion.Within(Timeout);
        Assert.Equal(["first woken", "second woken"], results);
        Assert.Equal(0, waker.Waiters);
        Assert.False(waker.IsSignaled);
    }
}
