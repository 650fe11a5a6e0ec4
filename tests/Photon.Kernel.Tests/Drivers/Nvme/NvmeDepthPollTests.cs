using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers.Nvme;

/// <summary>Two options of the interrupt queues at depth, on the device model with MSI-X: the doorbell rung during a
/// delivery (<see cref="NvmeDriverOptions.DeliveryDoorbellEvery"/>) and NAPI-style busy polling by one interrupt line
/// for every queue (<see cref="NvmeDriverOptions.DepthPoll"/>). Both must keep every guarantee of the plain path: right
/// bytes, nothing lost, hung commands still time out — and the busy poll must stop once the device is idle.</summary>
public sealed class NvmeDepthPollTests
{
    private static readonly HostTimers Timers = new(new HostClock());
    private static readonly TimeSpan NoWatchdog = TimeSpan.FromHours(1);

    private static async Task<(NvmeDeviceModel Model, NvmeController Controller)> StartAsync(NvmeDriverOptions options)
    {
        var model = new NvmeDeviceModel(blocks: 8192) { Msix = true };
        new Random(7).NextBytes(model.Disk);
        var started = await NvmeController.StartAsync(model, Timers, options);
        Assert.True(started.IsOk, started.ToString());
        return (model, started.Value);
    }

    private static async Task<int> ReadersAsync(NvmeDeviceModel model, NvmeController c, int workers, int readsEach)
    {
        int wrong = 0;
        async Task Worker(int seed)
        {
            var rng = new Random(seed);
            var buffer = new byte[4096];
            for (int i = 0; i < readsEach; i++)
            {
                long lba = rng.Next(0, 8192 / 8) * 8L;
                var r = await c.ReadAsync(lba, buffer, default).ConfigureAwait(false);
                Assert.True(r.IsOk, r.ToString());
                if (!buffer.AsSpan().SequenceEqual(model.Disk.AsSpan((int)lba * 512, 4096))) Interlocked.Increment(ref wrong);
            }
        }
        await Task.WhenAll(Enumerable.Range(1, workers).Select(i => Task.Run(() => Worker(i)))).WaitAsync(TimeSpan.FromMinutes(2));
        return wrong;
    }

    [Fact]
    public async Task A_doorbell_per_resubmission_rings_once_for_every_command_and_loses_nothing()
    {
        // The default batches a delivery's resubmissions behind one doorbell (NvmeAsyncPathTests); with 1, every entry
        // is rung as it is written, inside a delivery or not.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 1, QueueEntries: 32, HybridPoll: TimeSpan.Zero, WatchdogTick: NoWatchdog,
            PollQueue: false, DeliveryDoorbellEvery: 1));
        await using var _ = c;
        var before = c.Counters;
        int doorbells = model.IoDoorbells;
        Assert.Equal(0, await ReadersAsync(model, c, workers: 16, readsEach: 100));
        var d = c.Counters - before;
        Assert.Equal(1600, d.Commands);
        Assert.Equal(d.Commands, d.SqDoorbells);
        Assert.Equal(d.SqDoorbells, model.IoDoorbells - doorbells);
        Assert.Equal(0, c.InFlight);
    }

    [Fact]
    public async Task Busy_polling_at_depth_returns_every_read_right_and_one_line_reaps_the_other_queues()
    {
        // No hybrid budget: each session ends at its first empty pass, and without DepthPoll an interrupt is one pass.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, HybridPoll: TimeSpan.Zero, WatchdogTick: NoWatchdog,
            PollQueue: false, DepthPoll: true));
        await using var _ = c;
        var before = c.Counters;
        Assert.Equal(0, await ReadersAsync(model, c, workers: 32, readsEach: 50));
        var d = c.Counters - before;
        Assert.Equal(32 * 50, d.Commands);
        Assert.Equal(0, c.InFlight);
        // The poller keeps looking while commands are in flight: more passes over the queues than interrupts taken.
        Assert.True(d.Polls > d.ReaperWakes, $"{d.Polls} polls, {d.ReaperWakes} interrupts");
    }

    [Fact]
    public async Task Busy_polling_stops_once_the_device_is_idle()
    {
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, WatchdogTick: NoWatchdog, PollQueue: false, DepthPoll: true,
            HybridPoll: TimeSpan.FromMilliseconds(20)));
        await using var _ = c;
        Assert.Equal(0, await ReadersAsync(model, c, workers: 16, readsEach: 20));
        // Nothing in flight: the poller gives the token back at once and its line sleeps on the vector, so no pass
        // over the queues happens while the device is idle (give a stray last pass time to finish first).
        await Task.Delay(500);
        var before = c.Counters;
        await Task.Delay(300);
        var idle = c.Counters - before;
        // A spinning poller would make thousands of passes in 300 ms; a late MSI-X signal still queued on a loaded
        // machine's thread pool may wake its line for one pass (and one look at the other queue), no more.
        Assert.True(idle.Polls <= 2 * (idle.ReaperWakes + 1), $"{idle.Polls} passes over the queues while idle, {idle.ReaperWakes} interrupts");
    }

    [Fact]
    public async Task A_hung_command_under_the_busy_poll_still_times_out_and_the_queues_serve_again()
    {
        // The poll spins only within its budget while nothing completes; then the line sleeps and the watchdog's reset
        // must end the wait, with the other readers' commands retried or failed, never lost.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, HybridPoll: TimeSpan.FromMilliseconds(5),
            CommandTimeout: TimeSpan.FromMilliseconds(200), PollQueue: false, DepthPoll: true));
        await using var _ = c;
        var warm = await ReadersAsync(model, c, workers: 8, readsEach: 10);
        Assert.Equal(0, warm);
        model.HangOpcode = 0x02;
        var hung = await c.ReadAsync(0, new byte[4096], default).AsTask().WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(ErrorCode.TimedOut, hung.Code);
        model.HangOpcode = null;
        Assert.Equal(0, await ReadersAsync(model, c, workers: 8, readsEach: 10));
        Assert.Equal(0, c.InFlight);
    }
}
