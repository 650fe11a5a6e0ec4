using System.Collections.Concurrent;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

/// <summary>
/// A CPU with a coarse clock reads the precise clock after an item only when the coarse reading moved (issue #11: the
/// precise read was ~9% of a spawn's CPU). What must not change: timers are not held back by a skipped read, and an
/// item that runs past the starvation threshold is still reported with its real duration.
/// </summary>
public class CoarseClockSchedulingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Resolution = TimeSpan.FromMilliseconds(4);

    [Fact]
    public async Task Short_items_within_one_coarse_step_do_not_each_read_the_precise_clock()
    {
        var clock = new CoarseFrozenClock(Resolution);
        await using var s = new KernelScheduler(new HostProcessors(1), clock, new SchedulerOptions(Workers: 1));
        const int N = 20_000;
        int ran = 0;
        Func<Task> tiny = () => { Interlocked.Increment(ref ran); return Task.CompletedTask; };
        long readsBefore = 0;
        // One item queues all N on this CPU, so they run back to back without the CPU going idle in between.
        var spawner = s.Spawn(() =>
        {
            readsBefore = clock.PreciseReads;
            for (int i = 0; i < N; i++) s.Spawn(tiny, "tiny");
            return Task.CompletedTask;
        }, "spawner");
        await spawner.Completion.Within(Timeout);
        Assert.True(await Wait.Until(() => s.Stats.ItemsExecuted == N + 1, Timeout)); // counted after each item's end
        Assert.Equal(N, Volatile.Read(ref ran));
        long reads = clock.PreciseReads - readsBefore;
        // Before: at least one precise read per item (N). Now: a handful (the spawner's end, idling at the end).
        Assert.True(reads < N / 100, $"{reads} precise reads for {N} items");
    }

    [Fact]
    public async Task A_timer_due_while_short_items_skip_the_precise_read_still_fires_among_them()
    {
        var clock = new CoarseFrozenClock(Resolution);
        await using var s = new KernelScheduler(new HostProcessors(1), clock, new SchedulerOptions(Workers: 1));
        const int Cap = 200_000;
        var yielder = s.Spawn(async () =>
        {
            var timer = s.Delay(TimeSpan.FromMilliseconds(1));
            // Less than a coarse step: the coarse reading stays, so no item's end reads the precise clock by itself.
            clock.AdvancePrecise(TimeSpan.FromMilliseconds(3));
            int i = 0;
            while (!timer.IsCompleted && i < Cap) { i++; await KernelScheduler.Yield(); }
            return timer.IsCompleted;
        }, "yielder");
        // Without the lag check the CPU keeps polling with the reading taken before the step and runs all Cap yields.
        Assert.True(await yielder.Completion.Within(Timeout), "the timer did not fire while the CPU ran short items");
    }

    [Fact]
    public async Task An_item_past_the_threshold_is_reported_with_its_duration_and_short_ones_are_not()
    {
        var clock = new CoarseFrozenClock(Resolution);
        await using var s = new KernelScheduler(new HostProcessors(1), clock,
            new SchedulerOptions(Workers: 1, StarvationThreshold: TimeSpan.FromMilliseconds(50)));
        var reports = new ConcurrentQueue<StarvationReport>();
        s.StarvationDetected += reports.Enqueue;
        // Short items first (no clock movement), so the hog starts right after items whose ends skipped the read.
        var shorts = s.Spawn(async () => { for (int i = 0; i < 1_000; i++) await KernelScheduler.Yield(); }, "shorts");
        await shorts.Completion.Within(Timeout);
        var hog = s.Spawn(() => { clock.Advance(TimeSpan.FromMilliseconds(80)); return Task.CompletedTask; }, "hog", TaskPriority.High);
        await hog.Completion.Within(Timeout);
        Assert.True(await Wait.Until(() => !reports.IsEmpty, Timeout));
        var r = Assert.Single(reports);
        Assert.Equal(("hog", TaskPriority.High, false), (r.TaskName, r.Priority, r.StillRunning));
        Assert.True(r.RunningFor >= TimeSpan.FromMilliseconds(80), $"reported {r.RunningFor}");
        // The starts of items after skipped reads lag by less than two coarse steps: never counted as a long run.
        Assert.True(r.RunningFor < TimeSpan.FromMilliseconds(80) + 2 * Resolution, $"reported {r.RunningFor}");
    }
}
