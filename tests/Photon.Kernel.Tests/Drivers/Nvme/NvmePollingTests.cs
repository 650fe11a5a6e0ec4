using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers.Nvme;

/// <summary>The NVMe driver's polled fast path against the device model: submitters that poll their own completions
/// (no reaper, no thread hop), the one-thread polled loop with one SQ doorbell per batch, and hostile devices that
/// never complete.</summary>
public sealed class NvmePollingTests
{
    private static readonly HostTimers Timers = new(new HostClock());
    // A watchdog that never ticks during a test unless the test wants it: it would reap completions itself.
    private static readonly TimeSpan NoWatchdog = TimeSpan.FromHours(1);

    private static async Task<(NvmeDeviceModel Model, NvmeController Controller)> StartAsync(NvmeDriverOptions options)
    {
        var model = new NvmeDeviceModel(blocks: 8192);
        new Random(42).NextBytes(model.Disk);
        var started = await NvmeController.StartAsync(model, Timers, options);
        Assert.True(started.IsOk, started.ToString());
        return (model, started.Value);
    }

    [Fact]
    public async Task Inline_polling_reaps_every_completion_on_the_submitting_thread_with_correct_bytes()
    {
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, Polling: true, WatchdogTick: NoWatchdog));
        await using var _ = c;
        var before = c.Counters;
        var rng = new Random(1);
        for (int i = 0; i < 200; i++)
        {
            long lba = rng.Next(0, 8192 - 8);
            var back = new byte[4096];
            Assert.True((await c.ReadAsync(lba, back, default)).IsOk);
            Assert.Equal(model.Disk.AsSpan((int)lba * 512, 4096).ToArray(), back);
        }
        var d = c.Counters - before;
        Assert.Equal(200, d.Commands);
        Assert.Equal(200, d.ReapedInline);
        Assert.Equal(0, d.ReapedElsewhere);
        Assert.Equal(0, d.ThreadHops);
        Assert.Equal(200, d.SqDoorbells);
    }

    [Fact]
    public async Task Without_inline_polling_the_reaper_reaps_every_completion()
    {
        // The slower path the benchmark compares against: the submitter never polls.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8, Polling: true, PollInline: false, WatchdogTick: NoWatchdog));
        await using var _ = c;
        var before = c.Counters;
        for (int i = 0; i < 20; i++)
        {
            var back = new byte[512];
            Assert.True((await c.ReadAsync(i, back, default)).IsOk);
            Assert.Equal(model.Disk.AsSpan(i * 512, 512).ToArray(), back);
        }
        var d = c.Counters - before;
        Assert.Equal(0, d.ReapedInline);
        Assert.Equal(20, d.ReapedElsewhere);
    }

    [Fact]
    public async Task The_polled_loop_reads_correct_bytes_at_depth_with_one_doorbell_per_batch()
    {
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 1, QueueEntries: 32, Polling: true, WatchdogTick: NoWatchdog));
        await using var _ = c;
        var rng = new Random(7);
        int issued = 0, wrong = 0;
        var seen = new List<long>();
        int doorbellsBefore = model.IoDoorbells;
        var r = c.ReadPolled(depth: 31, bytes: 4096,
            (out long lba) => { lba = rng.Next(0, 8192 / 8) * 8L; return issued++ < 2000; },
            (data, lba) =>
            {
                if (!data.SequenceEqual(model.Disk.AsSpan((int)lba * 512, 4096))) wrong++;
                seen.Add(lba);
            });
        Assert.True(r.IsOk, r.ToString());
        Assert.Equal(2000, r.Value);
        Assert.Equal(2000, seen.Count);
        Assert.Equal(0, wrong);
        // 31 commands per batch: far fewer doorbells than commands (each batch is one tail write).
        Assert.InRange(model.IoDoorbells - doorbellsBefore, 1, 2000 / 16);
        Assert.Equal(0, c.InFlight);
    }

    [Fact]
    public async Task Concurrent_submitters_and_a_polled_loop_on_small_queues_lose_no_command()
    {
        // Submitters that find a poller active leave their doorbell to it: none may be left unrung.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 4, Polling: true, WatchdogTick: NoWatchdog));
        await using var _ = c;
        var writes = Enumerable.Range(0, 300).Select(i => Task.Run(() => c.WriteAsync(i * 8 + 4000, Pattern(4096, i), default).AsTask())).ToArray();
        int issued = 0;
        long looped = 0;
        var loop = Task.Run(() =>
        {
            // Loops on whichever queue is free; Busy while a submitter holds the poller role is fine, retry.
            while (looped < 400)
            {
                var r = c.ReadPolled(depth: 3, bytes: 512, (out long lba) => { lba = issued++ % 3000; return issued <= 400; }, (_, _) => { });
                if (r.IsOk) looped += r.Value;
                else Assert.Equal(ErrorCode.Busy, r.Code);
                if (issued > 400) break;
            }
        });
        Assert.All(await Task.WhenAll(writes).WaitAsync(TimeSpan.FromMinutes(2)), r => Assert.True(r.IsOk, r.ToString()));
        await loop.WaitAsync(TimeSpan.FromMinutes(2));
        for (int i = 0; i < 300; i++) Assert.Equal(Pattern(4096, i), model.Disk.AsSpan((i * 8 + 4000) * 512, 4096).ToArray());
        Assert.True(looped > 0);
        Assert.Equal(0, c.InFlight);
    }

    [Fact]
    public async Task A_device_that_never_sets_the_phase_bit_gives_TimedOut_to_polling_submitters_and_the_loop()
    {
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8, Polling: true, CommandTimeout: TimeSpan.FromMilliseconds(200)));
        await using var _ = c;
        model.StalePhase = true;
        // The inline poller spins on a completion that never shows; the watchdog's reset must end it (no hang).
        var hung = await c.ReadAsync(0, new byte[4096], default).AsTask().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(ErrorCode.TimedOut, hung.Code);
        Assert.True(c.Resets >= 1);
        int issued = 0;
        var loop = await Task.Run(() => c.ReadPolled(4, 4096, (out long lba) => { lba = issued * 8L; return issued++ < 100; }, (_, _) => { }))
            .WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(ErrorCode.TimedOut, loop.Code);
        model.StalePhase = false;
        var back = new byte[4096];
        Assert.True((await c.ReadAsync(8, back, default)).IsOk);
        Assert.Equal(model.Disk.AsSpan(8 * 512, 4096).ToArray(), back);
    }

    [Fact]
    public async Task The_polled_loop_rejects_bad_depths_sizes_and_addresses_with_typed_errors()
    {
        var (_, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8, Polling: true, WatchdogTick: NoWatchdog));
        await using var __ = c;
        bool Once(out long lba) { lba = 0; return false; }
        Assert.Equal(ErrorCode.OutOfRange, c.ReadPolled(8, 4096, Once, (_, _) => { }).Code); // 8 entries hold 7 commands
        Assert.Equal(ErrorCode.OutOfRange, c.ReadPolled(0, 4096, Once, (_, _) => { }).Code);
        Assert.Equal(ErrorCode.InvalidArgument, c.ReadPolled(1, 100, Once, (_, _) => { }).Code);
        Assert.Equal(ErrorCode.InvalidArgument, c.ReadPolled(1, 1 << 30, Once, (_, _) => { }).Code);
        int n = 0;
        var r = c.ReadPolled(2, 4096, (out long lba) => { lba = n++ == 3 ? 8190 : n; return n < 10; }, (_, _) => { });
        Assert.Equal(ErrorCode.OutOfRange, r.Code);
        var ok = c.ReadPolled(2, 512, (out long lba) => { lba = long.MaxValue; return false; }, (_, _) => { });
        Assert.True(ok.IsOk);
        Assert.Equal(0, ok.Value);
    }

    private static byte[] Pattern(int length, int seed)
    {
        var b = new byte[length];
        new Random(seed).NextBytes(b);
        return b;
    }
}
