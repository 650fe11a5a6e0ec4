using Photon.Net.Sockets;

namespace Photon.Net.Tests.Sockets;

/// <summary>
/// Issue #11, tcp16: a parked call given back (<see cref="PendingCalls{T}.Return"/>) is parked again by the next
/// receive, so a request/response connection's receive allocates no completion source per round trip — and a
/// completion decided for an older use of the call (a burst's deferred inline resume, a late cancellation) never
/// completes a newer one. Run in the allocation collection: one test counts this thread's allocations.
/// </summary>
[Collection(AllocationMeasurements.Name)]
public sealed class PendingCallReuseTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_returned_call_is_parked_again_and_a_stale_resume_does_not_wake_it()
    {
        var calls = new PendingCalls<bool>(4, "receive");
        var gate = new object();
        var first = calls.Park(inline: true).Value;
        var deferred = new List<PendingCalls<bool>.Resume>();
        calls.WakeAll(true, deferred); // woken under the lock; completed after it (not yet)
        Assert.False(first.IsCompleted);
        Assert.True(first.TrySetResult(false)); // a cancellation gets there first
        Assert.False(await calls.AwaitAsync(first, default, false, gate));
        calls.Return(first);

        var second = calls.Park(inline: true).Value;
        Assert.Same(first, second);
        Assert.NotEqual(deferred[0].Generation, second.Generation);
        Assert.Equal(1, PendingCalls<bool>.ResumeAll(deferred, 8)); // the stale resume ran (inline) ...
        Assert.False(second.IsCompleted);                           // ... and was refused
        Assert.Equal(1, calls.Count);
        calls.WakeAll(true);
        Assert.True(await calls.AwaitAsync(second, default, false, gate).AsTask().WaitAsync(Patience));
    }

    [Fact]
    public void A_call_given_back_before_its_result_was_taken_is_not_reused()
    {
        var calls = new PendingCalls<bool>(4, "receive");
        var parked = calls.Park().Value;
        calls.Return(parked); // still parked: refused
        calls.WakeAll(true);
        calls.Return(parked); // woken, but its awaiter has not taken the result: refused
        var next = calls.Park().Value;
        Assert.NotSame(parked, next);
        Assert.True(parked.IsCompleted);
        Assert.False(next.IsCompleted);
    }

    [Fact]
    public async Task Park_await_and_return_allocate_nothing_once_warm()
    {
        var calls = new PendingCalls<bool>(4, "receive");
        var gate = new object();
        async Task Cycle()
        {
            var call = calls.Park(inline: true).Value;
            call.TrySetResult(true);
            Assert.True(await calls.AwaitAsync(call, default, false, gate));
            calls.Return(call);
        }
        for (int i = 0; i < 100; i++) await Cycle();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) await Cycle(); // each completes synchronously: stays on this thread
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(bytes < 1000 * 8, $"{bytes} B for 1,000 park/await/return cycles"); // a completion source is ~100 B
    }

    /// <summary>Every round: park (maybe reusing the last call), then race the owner's cancellation against a deferred
    /// resume and a direct wake from two other threads; the owner takes exactly one result, gives the call back, and the
    /// next park must start uncompleted however late the last round's deferred resume runs.</summary>
    [Fact]
    public async Task Reuse_survives_cancellation_racing_deferred_and_direct_wakes()
    {
        var calls = new PendingCalls<bool>(4, "receive");
        var gate = new object();
        Task stragglers = Task.CompletedTask;
        int reused = 0;
        PendingCalls<bool>.Call? last = null;
        for (int round = 0; round < 3000; round++)
        {
            int r = round; // the tasks below read their round's number, not the loop's
            PendingCalls<bool>.Call call;
            lock (gate) call = calls.Park(inline: r % 2 == 0).Value;
            if (ReferenceEquals(call, last)) reused++;
            await stragglers.WaitAsync(Patience); // last round's deferred resume has run now
            Assert.False(call.IsCompleted);       // none of them reached this generation
            var deferred = new List<PendingCalls<bool>.Resume>();
            lock (gate) if (r % 3 == 0) calls.WakeAll(true, deferred);
            using var cts = new CancellationTokenSource();
            var resumer = Task.Run(() => PendingCalls<bool>.ResumeAll(deferred, 8));
            var waker = Task.Run(() => { lock (gate) if (r % 3 == 1) calls.WakeAll(true); });
            var canceller = Task.Run(cts.Cancel);
            bool woken = await calls.AwaitAsync(call, cts.Token, false, gate).AsTask().WaitAsync(Patience);
            Assert.Equal(0, calls.Count);
            if (r % 3 == 2) Assert.False(woken); // only the cancellation could complete it
            calls.Return(call);
            last = call;
            // The waker wakes whatever is parked when it runs, so it ends with its round; the deferred resume names its
            // generation and may run into the next round's park.
            await Task.WhenAll(waker, canceller).WaitAsync(Patience);
            stragglers = resumer;
        }
        await stragglers.WaitAsync(Patience);
        Assert.True(reused > 2000, $"reused {reused} of 3000");
    }
}
