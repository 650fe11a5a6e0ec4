using System.Diagnostics;
using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;
using Xunit.Abstractions;

namespace Photon.Kernel.Tests.Scheduling;

/// <summary>Runs alone (no parallel tests) because it measures the process's managed heap.</summary>
[CollectionDefinition("SchedulerMemory", DisableParallelization = true)]
public sealed class SchedulerMemoryCollection;

[Collection("SchedulerMemory")]
public sealed class MillionTasksTests(ITestOutputHelper output)
{
    private const int TaskCount = 1_000_000;
    private const long OneGiB = 1L << 30;

    private sealed class Counters
    {
        public int Waiting;
        public int Done;
    }

    [Fact]
    public async Task A_million_tasks_waiting_on_timers_and_wakers_fit_in_under_one_GiB_and_all_complete()
    {
        var clock = new SteppableClock();
        await using var s = new KernelScheduler(new HostProcessors(2), clock, new SchedulerOptions(Workers: 2, StarvationThreshold: TimeSpan.FromSeconds(30)));
        var waker = new Waker();
        var counters = new Counters();
        // Shared bodies (as real kernel code would use a method group): the measurement is of the tasks, not closures.
        Func<Task> onTimer = async () =>
        {
            Interlocked.Increment(ref counters.Waiting);
            await s.Delay(TimeSpan.FromHours(1));
            Interlocked.Increment(ref counters.Done);
        };
        Func<Task> onWaker = async () =>
        {
            Interlocked.Increment(ref counters.Waiting);
            await waker.WaitAsync();
            Interlocked.Increment(ref counters.Done);
        };

        long before = GC.GetTotalMemory(forceFullCollection: true);
        var sw = Stopwatch.StartNew();
        var spawner = s.Spawn(() =>
        {
            for (int i = 0; i < TaskCount; i++) s.Spawn(i % 2 == 0 ? onTimer : onWaker, "io-waiter");
            return Task.CompletedTask;
        }, "spawner");
        await spawner.Completion.WaitAsync(TimeSpan.FromSeconds(30));
        // Waiting counts a task just before its await; the last ones may still be on their way into the waker's queue or
        // the timer heap.
        Assert.True(await Wait.Until(() => Volatile.Read(ref counters.Waiting) == TaskCount && waker.Waiters == TaskCount / 2
                && s.Stats.PendingTimers == TaskCount / 2, TimeSpan.FromSeconds(30)),
            $"only {counters.Waiting} tasks reached their await, {waker.Waiters} wait on the waker, {s.Stats.PendingTimers} timers armed");
        var spawnTime = sw.Elapsed;

        long after = GC.GetTotalMemory(forceFullCollection: true);
        long used = after - before;
        var stats = s.Stats;
        output.WriteLine($"{TaskCount:N0} waiting tasks: {used / (1 << 20):N0} MiB ({used / TaskCount} B/task), spawned+parked in {spawnTime.TotalSeconds:F2} s");
        Assert.True(used < OneGiB, $"{TaskCount:N0} waiting tasks used {used / (1 << 20)} MiB");
        Assert.Equal(TaskCount + 0L, stats.InFlight);
        Assert.Equal(TaskCount / 2, stats.PendingTimers);
        Assert.Equal(TaskCount / 2, waker.Waiters);
        Assert.Equal(0, counters.Done);

        // Release: an hour passes on the kernel clock, and the waker is broadcast (as an I/O completion would).
        sw.Restart();
        clock.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));
        Assert.Equal(TaskCount / 2, waker.WakeAll());
        Assert.True(await Wait.Until(() => s.Stats.InFlight == 0, TimeSpan.FromSeconds(30)), $"{s.Stats.InFlight} tasks still in flight");
        output.WriteLine($"released and completed in {sw.Elapsed.TotalSeconds:F2} s");
        Assert.Equal(TaskCount, counters.Done);
        Assert.Equal(TaskCount + 1L, s.Stats.Completed); // + the spawner
        Assert.Equal(0, s.Stats.Faulted);
        Assert.Equal(0, s.Stats.PendingTimers);
    }
}
