using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers.Nvme;

/// <summary>The async API (<see cref="NvmeController.ReadAsync"/>/<see cref="NvmeController.WriteAsync"/>, what the
/// block layer and the filesystems use) on the device model with MSI-X: completions resume their waiter on the thread
/// that reaped them (no thread-pool hop), resubmissions from inside a delivery share one doorbell, and the hybrid poll
/// lets a submitter reap its own completion before the interrupt does. The interrupt queues' behaviour is tested with
/// the depth-1 poll queue off (<c>PollQueue: false</c>; the poll queue has its own tests in <c>NvmePollQueueTests</c>).</summary>
public sealed class NvmeAsyncPathTests
{
    private static readonly HostTimers Timers = new(new HostClock());
    private static readonly TimeSpan NoWatchdog = TimeSpan.FromHours(1);

    private static async Task<(NvmeDeviceModel Model, NvmeController Controller)> StartAsync(NvmeDriverOptions options)
    {
        var model = new NvmeDeviceModel(blocks: 8192) { Msix = true };
        new Random(42).NextBytes(model.Disk);
        var started = await NvmeController.StartAsync(model, Timers, options);
        Assert.True(started.IsOk, started.ToString());
        Assert.True(started.Value.Identity.Interrupts);
        return (model, started.Value);
    }

    /// <summary><paramref name="workers"/> loops, each with one 4 KiB read in flight (the benchmark's async QD), checking
    /// every byte; returns how many reads were wrong.</summary>
    private static async Task<int> ReadersAsync(NvmeDeviceModel model, NvmeController c, int workers, int readsEach, int fromBlock = 0)
    {
        int wrong = 0;
        async Task Worker(int seed)
        {
            var rng = new Random(seed);
            var buffer = new byte[4096];
            for (int i = 0; i < readsEach; i++)
            {
                long lba = fromBlock + rng.Next(0, (8192 - fromBlock) / 8) * 8L;
                var r = await c.ReadAsync(lba, buffer, default).ConfigureAwait(false);
                Assert.True(r.IsOk, r.ToString());
                if (!buffer.AsSpan().SequenceEqual(model.Disk.AsSpan((int)lba * 512, 4096))) Interlocked.Increment(ref wrong);
            }
        }
        await Task.WhenAll(Enumerable.Range(1, workers).Select(i => Task.Run(() => Worker(i)))).WaitAsync(TimeSpan.FromMinutes(2));
        return wrong;
    }

    [Fact]
    public async Task At_depth_every_waiter_resumes_on_the_reaping_thread_with_correct_bytes_and_no_command_is_lost()
    {
        // 32 readers on two queues of 8 entries (7 commands each): most wait for slots, continuations resubmit from
        // inside deliveries; interrupts only, so every completion goes through the interrupt line.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, HybridPoll: TimeSpan.Zero, WatchdogTick: NoWatchdog, PollQueue: false));
        await using var _ = c;
        var before = c.Counters;
        Assert.Equal(0, await ReadersAsync(model, c, workers: 32, readsEach: 50));
        var d = c.Counters - before;
        Assert.Equal(32 * 50, d.Commands);
        // Waiters resume on the reaping thread. The one exception is .NET's own: a completion that lands between the
        // awaiter's IsCompleted check and its OnCompleted registration is run from the thread pool by
        // ManualResetValueTaskSourceCore — rare (a handful in 1,600), where the old driver hopped once per I/O.
        Assert.InRange(d.ThreadHops, 0, d.Commands / 100);
        Assert.Equal(d.Commands, d.ReapedElsewhere); // the line reaped them all: no submitter polled
        Assert.Equal(0, c.InFlight);
    }

    [Fact]
    public async Task Resubmissions_from_inside_a_delivery_share_one_doorbell()
    {
        // The model completes a command as its doorbell is written and signals the vector: the line then reaps and
        // the readers' continuations resubmit from there, their entries rung together at the end of the delivery.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 1, QueueEntries: 32, HybridPoll: TimeSpan.Zero, WatchdogTick: NoWatchdog, PollQueue: false));
        await using var _ = c;
        var before = c.Counters;
        int doorbells = model.IoDoorbells;
        Assert.Equal(0, await ReadersAsync(model, c, workers: 16, readsEach: 100));
        var d = c.Counters - before;
        Assert.Equal(1600, d.Commands);
        Assert.Equal(d.SqDoorbells, model.IoDoorbells - doorbells);
        // One doorbell per command would be 1600; batching across the 16 readers must save a good share of them.
        Assert.True(d.SqDoorbells < d.Commands * 3 / 4, $"{d.SqDoorbells} SQ doorbells for {d.Commands} commands");
    }

    [Fact]
    public async Task With_the_hybrid_poll_a_lone_submitter_reaps_its_own_completion_and_without_it_the_line_does()
    {
        foreach (var hybrid in new[] { true, false })
        {
            var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8,
                HybridPoll: hybrid ? TimeSpan.FromMilliseconds(50) : TimeSpan.Zero, WatchdogTick: NoWatchdog, PollQueue: false));
            await using var _ = c;
            var before = c.Counters;
            var back = new byte[4096];
            for (int i = 0; i < 50; i++)
            {
                Assert.True((await c.ReadAsync(i * 8, back, default)).IsOk);
                Assert.Equal(model.Disk.AsSpan(i * 8 * 512, 4096).ToArray(), back);
            }
            var d = c.Counters - before;
            Assert.Equal(50, d.Commands);
            // The model signals the vector from a pool thread as it completes; the line wins that race as often as the
            // host's scheduler lets it (most of the time on a loaded machine), so the poll must reap some, and none
            // are reaped by their submitter without it.
            if (hybrid) Assert.True(d.ReapedInline > 0, $"{d.ReapedInline} of {d.Commands} reaped by their submitter");
            else Assert.Equal(0, d.ReapedInline);
        }
    }

    [Fact]
    public async Task A_hung_command_under_the_hybrid_poll_still_times_out_and_the_queue_serves_again()
    {
        // The poll gives up after its budget and sleeps on the vector; the watchdog's reset must end the wait.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8, HybridPoll: TimeSpan.FromMilliseconds(5),
            CommandTimeout: TimeSpan.FromMilliseconds(200), PollQueue: false));
        await using var _ = c;
        model.HangOpcode = 0x02;
        var hung = await c.ReadAsync(0, new byte[4096], default).AsTask().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(ErrorCode.TimedOut, hung.Code);
        model.HangOpcode = null;
        var back = new byte[4096];
        Assert.True((await c.ReadAsync(16, back, default).AsTask().WaitAsync(TimeSpan.FromMinutes(2))).IsOk);
        Assert.Equal(model.Disk.AsSpan(16 * 512, 4096).ToArray(), back);
    }

    [Fact]
    public async Task Concurrent_writers_and_readers_with_the_hybrid_poll_lose_nothing()
    {
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 4, WatchdogTick: NoWatchdog));
        await using var _ = c;
        var writes = Enumerable.Range(0, 200).Select(i => Task.Run(() => c.WriteAsync(i * 8, Pattern(4096, i), default).AsTask())).ToArray();
        var reads = ReadersAsync(model, c, workers: 8, readsEach: 20, fromBlock: 200 * 8); // not the blocks being written
        Assert.All(await Task.WhenAll(writes).WaitAsync(TimeSpan.FromMinutes(2)), r => Assert.True(r.IsOk, r.ToString()));
        Assert.Equal(0, await reads);
        for (int i = 0; i < 200; i++) Assert.Equal(Pattern(4096, i), model.Disk.AsSpan(i * 8 * 512, 4096).ToArray());
        Assert.Equal(0, c.InFlight);
    }

    [Fact]
    public async Task A_reader_cancelled_while_the_device_holds_its_command_gets_Cancelled_and_the_slot_returns_only_after_the_reset()
    {
        // One queue of 4 entries (3 slots). Three reads hang in the device and their readers give up: each gets
        // Cancelled, but the slots stay reserved (the device may still write into them) until the watchdog's reset
        // abandons the commands; then the queue serves again with all its slots.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 1, QueueEntries: 4, HybridPoll: TimeSpan.Zero,
            CommandTimeout: TimeSpan.FromMilliseconds(300), WatchdogTick: TimeSpan.FromMilliseconds(20), PollQueue: false));
        await using var _ = c;
        model.HangOpcode = 0x02;
        using var cts = new CancellationTokenSource();
        var hung = Enumerable.Range(0, 3).Select(i => c.ReadAsync(i * 8, new byte[4096], cts.Token).AsTask()).ToArray();
        Assert.Equal(3, c.InFlight);
        cts.Cancel();
        Assert.All(await Task.WhenAll(hung).WaitAsync(TimeSpan.FromMinutes(1)), r => Assert.Equal(ErrorCode.Cancelled, r.Code));
        model.HangOpcode = null;
        // Served once the reset has given the three slots back: three reads at once, each with the right bytes.
        var backs = Enumerable.Range(0, 3).Select(_ => new byte[4096]).ToArray();
        var reads = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => c.ReadAsync(64 + i * 8, backs[i], default).AsTask())).WaitAsync(TimeSpan.FromMinutes(1));
        Assert.All(reads, r => Assert.True(r.IsOk, r.ToString()));
        for (int i = 0; i < 3; i++) Assert.Equal(model.Disk.AsSpan((64 + i * 8) * 512, 4096).ToArray(), backs[i]);
        Assert.True(c.Resets >= 1);
        Assert.Equal(0, c.InFlight);
    }

    [Fact]
    public async Task Readers_cancelled_at_random_moments_get_their_bytes_or_Cancelled_and_no_slot_is_lost()
    {
        // Cancellation races the interrupt line's completion: every read ends either Ok with the right bytes or
        // Cancelled, never both or neither, and afterwards every slot serves again.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8, WatchdogTick: NoWatchdog));
        await using var _ = c;
        int ok = 0, cancelled = 0;
        async Task Worker(int seed)
        {
            var rng = new Random(seed);
            var buffer = new byte[4096];
            for (int i = 0; i < 150; i++)
            {
                using var cts = new CancellationTokenSource();
                long lba = rng.Next(0, 1000) * 8L;
                var read = c.ReadAsync(lba, buffer, cts.Token);
                if (rng.Next(2) == 0) cts.Cancel();
                var r = await read.ConfigureAwait(false);
                if (r.IsOk)
                {
                    Interlocked.Increment(ref ok);
                    Assert.True(buffer.AsSpan().SequenceEqual(model.Disk.AsSpan((int)lba * 512, 4096)), $"wrong bytes at {lba}");
                }
                else { Assert.Equal(ErrorCode.Cancelled, r.Code); Interlocked.Increment(ref cancelled); }
            }
        }
        await Task.WhenAll(Enumerable.Range(1, 6).Select(i => Task.Run(() => Worker(i)))).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(900, ok + cancelled);
        Assert.True(ok > 0);
        // Every one of the 7 slots comes back: 7 reads at once (a lost slot would leave one waiting forever).
        var all = await Task.WhenAll(Enumerable.Range(0, 7).Select(i => c.ReadAsync(i * 8, new byte[4096], default).AsTask())).WaitAsync(TimeSpan.FromMinutes(1));
        Assert.All(all, r => Assert.True(r.IsOk, r.ToString()));
        Assert.Equal(0, c.InFlight);
    }

    private static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }
}
