using Photon.Kernel.Drivers.Nvme;
using Photon.Kernel.Hal.Host;

namespace Photon.Kernel.Tests.Drivers.Nvme;

/// <summary>The depth-1 poll queue (<see cref="NvmeDriverOptions.PollQueue"/>, Linux's poll queues): with MSI-X the
/// driver creates one more I/O queue whose completion queue raises no interrupt; a read or write issued while no other
/// is in flight takes it and its submitter reaps it, so the device signals no vector for it. At depth the commands
/// still spread over the interrupt queues. Its polling is bounded: on a slow device the submitter gives up after the
/// hybrid budget and the queue's sleep-poller reaps the command, so a burst is not run one command at a time.</summary>
public sealed class NvmePollQueueTests
{
    private static readonly HostTimers Timers = new(new HostClock());
    private static readonly TimeSpan NoWatchdog = TimeSpan.FromHours(1);

    private static async Task<(NvmeDeviceModel Model, NvmeController Controller)> StartAsync(NvmeDriverOptions options, int maxQueues = 4)
    {
        var model = new NvmeDeviceModel(blocks: 8192, maxQueues: maxQueues) { Msix = true };
        new Random(42).NextBytes(model.Disk);
        var started = await NvmeController.StartAsync(model, Timers, options);
        Assert.True(started.IsOk, started.ToString());
        Assert.True(started.Value.Identity.Interrupts);
        return (model, started.Value);
    }

    private static int IoSignals(NvmeDeviceModel model) => model.Interrupts.Where(v => v.Vector > 0).Sum(v => Volatile.Read(ref v.Signals));

    /// <summary>Writes then reads back 4 KiB at a time, one I/O at a time; every byte checked.</summary>
    private static async Task OneAtATimeAsync(NvmeDeviceModel model, NvmeController c, int count)
    {
        var back = new byte[4096];
        for (int i = 0; i < count; i++)
        {
            var data = new byte[4096];
            new Random(1000 + i).NextBytes(data);
            Assert.True((await c.WriteAsync(i * 8, data, default)).IsOk);
            Assert.True((await c.ReadAsync(i * 8, back, default)).IsOk);
            Assert.Equal(data, back);
            Assert.Equal(data, model.Disk.AsSpan(i * 8 * 512, 4096).ToArray());
        }
    }

    [Fact]
    public async Task At_depth_one_reads_and_writes_take_the_poll_queue_and_the_device_raises_no_interrupt_for_them()
    {
        foreach (bool pollQueue in new[] { true, false })
        {
            var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, HybridPoll: TimeSpan.FromMilliseconds(50),
                WatchdogTick: NoWatchdog, PollQueue: pollQueue));
            await using var _ = c;
            Assert.Equal(pollQueue, c.Identity.PollQueue);
            Assert.Equal(2, c.Identity.IoQueues); // the poll queue is one more, not one of the two
            int signals = IoSignals(model);
            var before = c.Counters;
            await OneAtATimeAsync(model, c, 100);
            var d = c.Counters - before;
            Assert.Equal(200, d.Commands);
            if (pollQueue)
            {
                // Every completion reaped by its own submitter, and not one MSI-X signal from the device.
                Assert.Equal(200, d.ReapedInline);
                Assert.Equal(0, IoSignals(model) - signals);
            }
            else
            {
                // The hybrid poll on an interrupt queue: the device signals the vector for each completion anyway.
                Assert.Equal(200, IoSignals(model) - signals);
            }
            Assert.Equal(0, c.InFlight);
        }
    }

    [Fact]
    public async Task Many_readers_at_once_get_every_byte_and_only_commands_that_found_others_in_flight_leave_the_poll_queue()
    {
        // Interrupts only on the interrupt queues (no hybrid poll), so who reaped a completion says which queue it took.
        // The model completes at the doorbell, so how many readers overlap depends on the host's scheduling (on an idle
        // host often none, under load many): the checks hold for any overlap.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, HybridPoll: TimeSpan.Zero, WatchdogTick: NoWatchdog, PollQueue: true));
        await using var _ = c;
        Assert.True(c.Identity.PollQueue);
        int signals = IoSignals(model);
        var before = c.Counters;
        int wrong = 0;
        async Task Reader(int seed)
        {
            var rng = new Random(seed);
            var buffer = new byte[4096];
            for (int i = 0; i < 60; i++)
            {
                long lba = rng.Next(0, 1000) * 8L;
                var r = await c.ReadAsync(lba, buffer, default).ConfigureAwait(false);
                Assert.True(r.IsOk, r.ToString());
                if (!buffer.AsSpan().SequenceEqual(model.Disk.AsSpan((int)lba * 512, 4096))) Interlocked.Increment(ref wrong);
            }
        }
        await Task.WhenAll(Enumerable.Range(1, 16).Select(i => Task.Run(() => Reader(i)))).WaitAsync(TimeSpan.FromMinutes(2));
        var d = c.Counters - before;
        Assert.Equal(0, wrong);
        Assert.Equal(16 * 60, d.Commands);
        // Every command reaped exactly once, by its submitter (poll queue) or by an interrupt line after a signal (a
        // command issued while another was in flight went to an interrupt queue); never by a line without one.
        Assert.Equal(d.Commands, d.ReapedInline + d.ReapedElsewhere);
        Assert.InRange(d.ReapedElsewhere, 0, IoSignals(model) - signals);
        Assert.Equal(0, c.InFlight);
    }

    [Fact]
    public async Task A_controller_without_a_spare_queue_and_a_polled_controller_run_without_the_poll_queue()
    {
        // Granted only the two queues asked for beside it: the poll queue is dropped, not one of the interrupt queues.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, WatchdogTick: NoWatchdog, PollQueue: true), maxQueues: 2);
        await using (c)
        {
            Assert.False(c.Identity.PollQueue);
            Assert.Equal(2, c.Identity.IoQueues);
            int signals = IoSignals(model);
            await OneAtATimeAsync(model, c, 20);
            Assert.True(IoSignals(model) - signals > 0);
        }
        // All queues polled already: no extra queue.
        var polled = new NvmeDeviceModel(blocks: 8192);
        var started = await NvmeController.StartAsync(polled, Timers, new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, Polling: true, WatchdogTick: NoWatchdog, PollQueue: true));
        Assert.True(started.IsOk, started.ToString());
        await using var p = started.Value;
        Assert.False(p.Identity.PollQueue);
        await OneAtATimeAsync(polled, p, 5);
    }

    [Fact]
    public async Task A_hung_command_on_the_poll_queue_times_out_and_the_queue_then_serves_without_interrupts()
    {
        // No interrupt: the submitter's bounded spin gives up, the sleep-poller keeps looking; only the watchdog's reset ends it.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 1, QueueEntries: 8, CommandTimeout: TimeSpan.FromMilliseconds(200), PollQueue: true));
        await using var _ = c;
        Assert.True(c.Identity.PollQueue);
        model.HangOpcode = 0x02;
        var hung = await Task.Run(() => c.ReadAsync(0, new byte[4096], default).AsTask()).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.Equal(ErrorCode.TimedOut, hung.Code);
        Assert.True(c.Resets >= 1);
        model.HangOpcode = null;
        int signals = IoSignals(model);
        var before = c.Counters;
        await OneAtATimeAsync(model, c, 10);
        var d = c.Counters - before;
        // Rebuilt as it was: still no interrupts on the poll queue (also when the test resumes on the admin queue's line,
        // which delivered the reset's last admin completion).
        Assert.True(IoSignals(model) - signals == 0, $"{IoSignals(model) - signals} MSI-X signals; {d.PerIo()}");
        Assert.Equal(0, c.InFlight);
    }

    private static async Task WaitUntil(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}");
            await Task.Delay(5);
        }
    }

    [Fact]
    public async Task A_burst_on_a_slow_device_is_in_flight_at_the_device_together_and_the_poll_queue_command_is_reaped_without_an_interrupt()
    {
        // The device holds every read until the test releases them: a spin that waited for the device's whole time
        // would never return from the first ReadAsync, and the burst would reach the device one command at a time.
        const int Burst = 12;
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, WatchdogTick: NoWatchdog));
        await using var _ = c;
        Assert.True(c.Identity.PollQueue); // on by default
        model.HoldIo = true;
        int signals = IoSignals(model);
        var buffers = Enumerable.Range(0, Burst).Select(_ => new byte[4096]).ToArray();
        // Issued from one thread without awaiting any (the way a filesystem's readahead or the VM's fault test does).
        var reads = await Task.Run(() => Enumerable.Range(0, Burst).Select(i => c.ReadAsync(i * 8L, buffers[i], default).AsTask()).ToArray())
            .WaitAsync(TimeSpan.FromSeconds(60));
        await WaitUntil(() => model.Held == Burst, $"{Burst} reads held at the device (held: {model.Held})");
        Assert.Equal(Burst, model.MaxHeld);
        Assert.Equal(Burst, model.ReleaseHeld());
        var results = await Task.WhenAll(reads).WaitAsync(TimeSpan.FromMinutes(2));
        for (int i = 0; i < Burst; i++)
        {
            Assert.True(results[i].IsOk, results[i].ToString());
            Assert.Equal(model.Disk.AsSpan(i * 8 * 512, 4096).ToArray(), buffers[i]);
        }
        // One of them (the first, alone) took the poll queue: its completion raised no MSI-X; the rest each raised one.
        Assert.Equal(Burst - 1, IoSignals(model) - signals);
        Assert.Equal(0, c.InFlight);
        // And the queue serves depth-1 I/O on the poll queue again, reaped by its submitters — from a thread outside any
        // delivery (this test may have resumed on an interrupt line, whose resubmissions rightly stay on its queue).
        model.HoldIo = false;
        signals = IoSignals(model);
        await Task.Run(() => OneAtATimeAsync(model, c, 10));
        Assert.Equal(0, IoSignals(model) - signals);
    }

    [Fact]
    public async Task A_burst_of_writes_hung_in_the_device_overlaps_and_the_watchdog_times_every_one_out()
    {
        // The VM's command-timeout fault test on the model: writes issued at once, none completed by the device.
        const int Burst = 8;
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, CommandTimeout: TimeSpan.FromSeconds(5)));
        await using var _ = c;
        Assert.True(c.Identity.PollQueue);
        model.HoldIo = true;
        var data = new byte[4096];
        var writes = await Task.Run(() => Enumerable.Range(0, Burst).Select(i => c.WriteAsync(i * 8L, data, default).AsTask()).ToArray())
            .WaitAsync(TimeSpan.FromSeconds(60));
        var results = await Task.WhenAll(writes).WaitAsync(TimeSpan.FromMinutes(2));
        Assert.All(results, r => Assert.Equal(ErrorCode.TimedOut, r.Code));
        Assert.True(c.Resets >= 1);
        // Held together (the old unbounded spin sent them one at a time, each timed out alone).
        Assert.True(model.MaxHeld >= 2, $"at most {model.MaxHeld} write(s) at the device at once");
        model.HoldIo = false;
        await OneAtATimeAsync(model, c, 5);
        Assert.Equal(0, c.InFlight);
    }

    [Fact]
    public async Task A_poll_queue_spin_stops_when_a_second_command_arrives_and_the_sleep_poller_never_spins_at_depth()
    {
        // A 1 s spin limit (the most allowed) on a device that holds every read: without the depth check the lone
        // command's submitter would spin its whole second, and the sleep-poller a second per wake, beside the burst.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, WatchdogTick: NoWatchdog,
            PollQueueSpin: TimeSpan.FromSeconds(1)));
        await using var _ = c;
        Assert.True(c.Identity.PollQueue);
        var first = new byte[4096];
        var burst = Enumerable.Range(0, 6).Select(_ => new byte[4096]).ToArray();
        for (int attempt = 1; ; attempt++)
        {
            model.HoldIo = true;
            var before = c.PollQueueCounters;
            var spinEnded = new TaskCompletionSource<Task<Result>>(TaskCreationOptions.RunContinuationsAsynchronously);
            // Alone: it takes the poll queue and its submitter spins inside ReadAsync (the device holds it).
            var submitter = Task.Run(() => spinEnded.SetResult(c.ReadAsync(0, first, default).AsTask()));
            await WaitUntil(() => model.Held == 1, "the lone read held at the device");
            // The 1 s spin already over (a starved test thread on a loaded host): nothing to see this time, go again.
            bool stillSpinning = !spinEnded.Task.IsCompleted;
            var reads = await Task.Run(() => burst.Select((b, i) => c.ReadAsync((i + 1) * 8L, b, default).AsTask()).ToArray())
                .WaitAsync(TimeSpan.FromSeconds(60));
            var lone = await spinEnded.Task.WaitAsync(TimeSpan.FromSeconds(60));
            await submitter;
            await WaitUntil(() => model.Held == 1 + burst.Length, "the burst held at the device with the lone read");
            var cut = c.PollQueueCounters - before;
            // The submitter's spin ended when the burst came (not at its 1 s limit).
            if (stillSpinning) Assert.Equal(1, cut.SpinsCut);
            // The sleep-poller (its timer wakes it while the lone command is in flight) polls once per wake, no spin.
            var asleep = c.PollQueueCounters;
            await WaitUntil(() => (c.PollQueueCounters - asleep).ReaperWakes >= 3, "three wakes of the sleep-poller");
            var d = c.PollQueueCounters - asleep;
            Assert.True(d.Polls <= d.ReaperWakes + 1, $"{d.Polls} polls in {d.ReaperWakes} sleep-poller wakes: it spun");
            Assert.Equal(1 + burst.Length, model.ReleaseHeld());
            model.HoldIo = false;
            Assert.True((await lone.WaitAsync(TimeSpan.FromMinutes(2))).IsOk);
            Assert.All(await Task.WhenAll(reads).WaitAsync(TimeSpan.FromMinutes(2)), r => Assert.True(r.IsOk, r.ToString()));
            Assert.Equal(model.Disk.AsSpan(0, 4096).ToArray(), first);
            for (int i = 0; i < burst.Length; i++) Assert.Equal(model.Disk.AsSpan((i + 1) * 8 * 512, 4096).ToArray(), burst[i]);
            Assert.Equal(0, c.InFlight);
            if (stillSpinning) break;
            Assert.True(attempt < 5, "in 5 attempts the lone read's 1 s spin was always over before the second read came");
        }
        // A lone command is still its submitter's: reaped inline, no interrupt (from a thread outside any delivery).
        int signals = IoSignals(model);
        var lone10 = c.PollQueueCounters;
        await Task.Run(() => OneAtATimeAsync(model, c, 10));
        var after = c.PollQueueCounters - lone10;
        Assert.Equal(20, after.ReapedInline);
        Assert.Equal(0, after.SpinsCut);
        Assert.Equal(0, IoSignals(model) - signals);
    }

    [Fact]
    public async Task A_poll_queue_command_overtaken_by_a_burst_is_reaped_by_an_interrupt_line_in_passing()
    {
        // The sleep-poller sleeps at most 50 ms between polls; with the lone read's completion delayed until the burst's
        // are in (the device holds them all and releases them at once), the interrupt lines see it first or the
        // sleep-poller does — either way it completes, with no spin; over many bursts the lines take some.
        var (model, c) = await StartAsync(new NvmeDriverOptions(IoQueues: 2, QueueEntries: 8, WatchdogTick: NoWatchdog,
            PollQueueSpin: TimeSpan.Zero));
        await using var _ = c;
        var before = c.PollQueueCounters;
        var buffers = Enumerable.Range(0, 4).Select(_ => new byte[4096]).ToArray();
        for (int round = 0; round < 200 && (c.PollQueueCounters - before).ReapedAside == 0; round++)
        {
            model.HoldIo = true;
            var reads = await Task.Run(() => buffers.Select((b, i) => c.ReadAsync(i * 8L, b, default).AsTask()).ToArray())
                .WaitAsync(TimeSpan.FromSeconds(60));
            await WaitUntil(() => model.Held == buffers.Length, "the reads held at the device");
            model.HoldIo = false;
            model.ReleaseHeld();
            Assert.All(await Task.WhenAll(reads).WaitAsync(TimeSpan.FromMinutes(2)), r => Assert.True(r.IsOk, r.ToString()));
        }
        var d = c.PollQueueCounters - before;
        Assert.True(d.ReapedAside > 0, $"no poll-queue completion reaped by an interrupt line: {d.PerIo()}");
        Assert.Equal(0, c.InFlight);
    }
}
