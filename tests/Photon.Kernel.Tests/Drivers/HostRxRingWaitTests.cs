using Photon.Kernel.Hal.Host.Net;

namespace Photon.Kernel.Tests.Drivers;

/// <summary>
/// Issue #11, tcp16: the host RX ring's reader wait reuses one waiter from wait to wait (no completion source per
/// burst), a wake taken for an older wait never completes a newer one, a cancelled wait throws and leaves nothing
/// listed, and a reader racing publishes and cancellations misses no frame.
/// </summary>
public sealed class HostRxRingWaitTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private static HostRxFrame Frame(byte b) => new([b], 1, default);

    [Fact]
    public async Task A_warm_wait_published_on_the_readers_own_thread_allocates_nothing()
    {
        var ring = new HostRxRing(8);
        async Task Cycle()
        {
            var wait = ring.WaitToReadAsync(default);
            Assert.False(wait.IsCompleted);
            Assert.True(ring.TryWrite(Frame(1)));
            ring.Publish(); // resumes the reader here, as the receive thread does
            Assert.True(await wait);
            Assert.True(ring.TryRead(out _));
        }
        for (int i = 0; i < 100; i++) await Cycle();
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++) await Cycle();
        long bytes = GC.GetAllocatedBytesForCurrentThread() - before;
        // A completion source and its task were ~90 B a wait; what is left (32 B here) is not the waiter's.
        Assert.True(bytes < 1000 * 48, $"{bytes} B for 1,000 waits");
    }

    [Fact]
    public async Task A_cancelled_wait_throws_and_the_next_wait_is_woken_by_the_next_publish_only()
    {
        var ring = new HostRxRing(8);
        using (var cts = new CancellationTokenSource())
        {
            var wait = ring.WaitToReadAsync(cts.Token).AsTask();
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.WaitAsync(Patience));
        }
        var next = ring.WaitToReadAsync(default).AsTask();
        ring.Publish(); // nothing written: a stale listing of the cancelled wait would have been woken here
        Assert.False(next.IsCompleted);
        Assert.True(ring.TryWrite(Frame(2)));
        ring.Publish();
        Assert.True(await next.WaitAsync(Patience));
    }

    [Fact]
    public async Task A_reader_racing_publishes_and_cancellations_gets_every_frame()
    {
        const int Frames = 20_000;
        var ring = new HostRxRing(64);
        var writer = Task.Run(() =>
        {
            for (int i = 0; i < Frames; i++)
            {
                while (!ring.TryWrite(Frame((byte)i))) Thread.Yield();
                if (i % 7 == 0) ring.Publish();
            }
            ring.Complete();
        });
        int read = 0, cancelled = 0;
        var random = new Random(11);
        while (true)
        {
            using var cts = new CancellationTokenSource();
            if (random.Next(5) == 0) cts.CancelAfter(TimeSpan.FromTicks(random.Next(1, 2000)));
            bool more;
            try { more = await ring.WaitToReadAsync(cts.Token).AsTask().WaitAsync(Patience); }
            catch (OperationCanceledException) { cancelled++; continue; }
            if (!more) break;
            while (ring.TryRead(out _)) read++;
        }
        await writer.WaitAsync(Patience);
        Assert.Equal(Frames, read);
    }
}
