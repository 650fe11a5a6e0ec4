using Microsoft.Coyote.Runtime;
using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;
using Photon.Kernel.Scheduling;

namespace Photon.Coyote;

/// <summary>
/// A pooled task's handle racing the task's finish, its retirement into the CPU's magazine and the object's reuse by
/// the next pooled spawn on that CPU: a cancel, a join and a state read through the first handle, from outside, at
/// every point of that sequence. On one Coyote-controlled CPU (so a retired task is the next spawn's object) with every
/// race point on. Invariants: the first task ends once (ran with its body run once, or canceled with it never run) and
/// its join and state agree with that; the second task is never touched by the first's handle (its body runs once, it
/// ends RanToCompletion); the scheduler counts each outcome once.
/// </summary>
public static class PooledTaskReuseRaceTests
{
    private sealed class Runs { public int A, B; }

    [Test]
    public static async Task HandleRacingFinishRetireAndReuse_ReachesOnlyItsOwnGeneration()
    {
        InterleavingPoints.Enable();
        var cpus = new ControlledProcessors(1);
        var scheduler = new KernelScheduler(cpus, new FrozenClock(), new SchedulerOptions(Workers: 1, Name: "coyote"));
        var runs = new Runs();
        Func<Task> bodyA = () => { runs.A++; return Task.CompletedTask; };
        Func<Task> bodyB = () => { runs.B++; return Task.CompletedTask; };
        var a = scheduler.SpawnPooled(bodyA, "a");
        // Queued behind a on the one CPU: spawns b there once a has run (and, if nothing pinned it, been retired).
        var spawner = scheduler.Spawn(() => Task.FromResult(scheduler.SpawnPooled(bodyB, "b")), "spawner");
        bool cancelled = false;
        var canceller = Task.Run(() => { SchedulingPoint.Interleave(); cancelled = a.Cancel(); });
        Task? join = null;
        var joiner = Task.Run(() => { SchedulingPoint.Interleave(); Volatile.Write(ref join, a.Join()); });
        var reader = Task.Run(() =>
        {
            SchedulingPoint.Interleave();
            var state = a.State;
            Specification.Assert(state is not KernelTaskState.Faulted and not KernelTaskState.Waiting, $"a read {state}");
        });
        await canceller;
        await joiner;
        await reader;
        var b = await spawner.Completion;
        var joined = Volatile.Read(ref join)!;
        try { await joined; } catch (OperationCanceledException) { }
        await b.Join();

        var aState = a.State;
        Specification.Assert(aState is KernelTaskState.RanToCompletion or KernelTaskState.Canceled, $"a ended {aState}");
        Specification.Assert(runs.A == (aState == KernelTaskState.RanToCompletion ? 1 : 0), $"a is {aState} and its body ran {runs.A} times");
        Specification.Assert(aState != KernelTaskState.Canceled || cancelled, "a was canceled though its cancel reported nothing done");
        Specification.Assert(joined.IsCompletedSuccessfully == (aState == KernelTaskState.RanToCompletion)
            && joined.IsCanceled == (aState == KernelTaskState.Canceled), $"a's join is {joined.Status}, a {aState}");
        Specification.Assert(runs.B == 1 && b.State == KernelTaskState.RanToCompletion, $"b's body ran {runs.B} times, b is {b.State}");
        await scheduler.DisposeAsync();
        foreach (var loop in cpus.Loops) await loop;
        var stats = scheduler.Stats;
        Specification.Assert(stats.Completed == 2 + runs.A && stats.Canceled == 1 - runs.A && stats.Faulted == 0,
            $"{stats.Completed} completed, {stats.Canceled} canceled, {stats.Faulted} faulted");
    }
}
