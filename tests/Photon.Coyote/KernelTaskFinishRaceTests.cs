using Microsoft.Coyote.Runtime;
using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;
using Photon.Kernel.Scheduling;

namespace Photon.Coyote;

/// <summary>
/// A kernel task's finish when its body completes within its first run: the finisher claims the task with a plain
/// store (no compare-and-swap), relying on no one else being able to finish it then. Raced here: Cancel from outside
/// (before, during or after the first run), a reader of Completion (created lazily, completed by whichever of it and
/// the finisher comes second) and shutdown. On Coyote-controlled CPUs with every race point on.
/// Invariants: the task ends exactly once — ran to completion with its body run once, or canceled with its body never
/// run; Completion agrees with State; the scheduler counts one outcome.
/// </summary>
public static class KernelTaskFinishRaceTests
{
    [Test]
    public static async Task FirstRunFinishRacingCancelAndCompletion_EndsOnceAndAgrees()
    {
        InterleavingPoints.Enable();
        var cpus = new ControlledProcessors(2);
        var scheduler = new KernelScheduler(cpus, new FrozenClock(), new SchedulerOptions(Workers: 2, Name: "coyote"));
        int ran = 0;
        var task = scheduler.Spawn(() => { Interlocked.Increment(ref ran); return Task.CompletedTask; }, "short");
        var canceller = Task.Run(() => { SchedulingPoint.Interleave(); task.Cancel(); });
        Task? completion = null;
        var reader = Task.Run(() => { SchedulingPoint.Interleave(); Volatile.Write(ref completion, task.Completion); });
        await canceller;
        await reader;
        var done = Volatile.Read(ref completion)!;
        try { await done; } catch (OperationCanceledException) { }
        var state = task.State;
        Specification.Assert(state is KernelTaskState.RanToCompletion or KernelTaskState.Canceled, $"the task ended {state}");
        Specification.Assert(ran == (state == KernelTaskState.RanToCompletion ? 1 : 0), $"the task is {state} and its body ran {ran} times");
        Specification.Assert(done.IsCompletedSuccessfully == (state == KernelTaskState.RanToCompletion)
            && done.IsCanceled == (state == KernelTaskState.Canceled), $"Completion is {done.Status}, the task {state}");
        await scheduler.DisposeAsync();
        foreach (var loop in cpus.Loops) await loop;
        Specification.Assert(task.State == state, $"shutdown changed the finished task to {task.State}");
        // Counted after the outcome is published, so read once every CPU has left its loop.
        var stats = scheduler.Stats;
        Specification.Assert(stats.Completed + stats.Canceled == 1 && stats.Faulted == 0,
            $"{stats.Completed} completed, {stats.Canceled} canceled, {stats.Faulted} faulted for one task");
    }
}
