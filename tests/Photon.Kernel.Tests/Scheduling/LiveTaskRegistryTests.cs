using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

/// <summary>
/// The registry of suspended tasks (an array per stripe, each task holding its index) that shutdown cancels from:
/// tasks leave it in any order as they finish, and shutdown cancels exactly those still suspended, once each.
/// </summary>
public class LiveTaskRegistryTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Tasks_finishing_in_random_order_leave_and_shutdown_cancels_exactly_the_rest()
    {
        var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 2, StarvationThreshold: TimeSpan.FromSeconds(30)));
        const int N = 5_000;
        var gates = new TaskCompletionSource[N];
        var tasks = new KernelTask[N];
        int suspended = 0;
        for (int i = 0; i < N; i++)
        {
            var gate = gates[i] = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            tasks[i] = s.Spawn(async () => { Interlocked.Increment(ref suspended); await gate.Task; }, $"t{i}");
        }
        Assert.True(await Wait.Until(() => Volatile.Read(ref suspended) == N
            && tasks.All(t => t.State == KernelTaskState.Waiting), Timeout));
        // Release three quarters in a random order (removals from the middle, the end, and whole stripes shrinking).
        var order = Enumerable.Range(0, N).OrderBy(_ => Random.Shared.Next()).ToArray();
        var released = order.Take(3 * N / 4).ToHashSet();
        foreach (int i in order.Take(3 * N / 4)) gates[i].SetResult();
        await Task.WhenAll(released.Select(i => tasks[i].Completion)).Within(Timeout);

        await s.DisposeAsync().AsTask().Within(Timeout);
        for (int i = 0; i < N; i++)
            Assert.Equal(released.Contains(i) ? KernelTaskState.RanToCompletion : KernelTaskState.Canceled, tasks[i].State);
        var stats = s.Stats;
        Assert.Equal((3L * N / 4, (long)N / 4, 0L), (stats.Completed, stats.Canceled, stats.InFlight));
        // A body released after shutdown does not change the outcome.
        foreach (int i in order.Skip(3 * N / 4)) gates[i].SetResult();
        Assert.Equal(N / 4, tasks.Count(t => t.State == KernelTaskState.Canceled));
    }

    [Fact]
    public void A_kernel_task_takes_at_most_72_bytes()
    {
        // Counted by the GC, not timed: the task object a spawn allocates (its body delegate and name are shared).
        var s = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1));
        try
        {
            Func<Task> body = () => Task.CompletedTask;
            _ = new KernelTask(1, "tiny", TaskPriority.Normal, body, s.VoidShape, default); // JIT, type load
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1000; i++) _ = new KernelTask(i, "tiny", TaskPriority.Normal, body, s.VoidShape, default);
            long perTask = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000;
            // 72, not 80: the scheduler is named by the task's shape, not a field of its own (the GC rounds by references).
            Assert.True(perTask <= 72, $"{perTask} B per kernel task");
        }
        finally { s.DisposeAsync().AsTask().GetAwaiter().GetResult(); }
    }
}
