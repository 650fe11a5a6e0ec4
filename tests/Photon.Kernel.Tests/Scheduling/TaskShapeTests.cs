using Photon.Kernel.Hal.Host;
using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

/// <summary>
/// A kernel task finds its scheduler through its shape (one per scheduler and result type), before and after
/// <see cref="KernelTask.Completion"/> replaces the shape by its source: with two schedulers spawning the same result
/// type in turn, every continuation runs on the CPUs of the scheduler that spawned its task, and every value arrives.
/// </summary>
public class TaskShapeTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Tasks_of_two_schedulers_resume_on_their_own_scheduler_before_and_after_completion_is_read()
    {
        var a = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1, Name: "shape-a"));
        var b = LinuxPlatform.CreateScheduler(new SchedulerOptions(Workers: 1, Name: "shape-b"));
        try
        {
            const int N = 200;
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var typed = new List<(KernelTask<int> Task, int Expected)>();
            var untyped = new List<KernelTask>();
            int wrongScheduler = 0;
            for (int i = 0; i < N; i++)
            {
                // Alternate so the value shape's one-entry cache misses on every spawn.
                var (own, other) = i % 2 == 0 ? (a, b) : (b, a);
                int value = i;
                typed.Add((own.Spawn<int>(async () =>
                {
                    await gate.Task; // resumes through the task's context: its scheduler, found through the shape
                    if (!own.IsKernelThread || other.IsKernelThread) Interlocked.Increment(ref wrongScheduler);
                    await KernelScheduler.Yield();
                    if (!own.IsKernelThread || other.IsKernelThread) Interlocked.Increment(ref wrongScheduler);
                    return value;
                }, $"typed{i}"), value));
                var plain = own.Spawn(async () =>
                {
                    await gate.Task;
                    if (!own.IsKernelThread || other.IsKernelThread) Interlocked.Increment(ref wrongScheduler);
                }, $"plain{i}");
                // Half of the untyped tasks have their source made (the shape replaced) before they resume.
                if (i % 4 < 2) _ = plain.Completion;
                untyped.Add(plain);
            }
            gate.SetResult();
            var values = await Task.WhenAll(typed.Select(t => t.Task.Completion)).Within(Timeout);
            await Task.WhenAll(untyped.Select(t => t.Completion)).Within(Timeout);
            Assert.Equal(typed.Select(t => t.Expected), values);
            Assert.Equal(0, Volatile.Read(ref wrongScheduler));
            Assert.All(untyped, t => Assert.Equal(KernelTaskState.RanToCompletion, t.State));
            // Each finish is counted by the task's own scheduler (found through the shape): N tasks each.
            Assert.True(await Wait.Until(() => a.Stats.Completed == N && b.Stats.Completed == N, Timeout),
                $"completed {a.Stats.Completed} on a, {b.Stats.Completed} on b");
        }
        finally
        {
            await a.DisposeAsync().AsTask().Within(Timeout);
            await b.DisposeAsync().AsTask().Within(Timeout);
        }
    }
}
