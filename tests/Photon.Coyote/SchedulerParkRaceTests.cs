using Microsoft.Coyote.Runtime;
using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;
using Photon.Kernel.Scheduling;

namespace Photon.Coyote;

/// <summary>
/// The worker park/unpark protocol of <see cref="KernelScheduler"/>, on Coyote-controlled CPUs
/// (<see cref="ControlledProcessors"/>: parks last until a wake, no timeout to hide a lost one). The kernel's seam
/// points sit between a CPU's failed search, its idle announcement (Parked, the idle count, the searcher hand-off),
/// its re-check and its park; between a producer's push and its idle check; between a waker's claim of a parked CPU
/// and its wake; between shutdown's flag and its wakes; and between Spawn's shutdown check and its enqueue.
/// A lost unpark shows up as a deadlock (every CPU parked, the test waiting for a task that sits in a queue).
/// </summary>
public static class SchedulerParkRaceTests
{
    private const int Cpus = 2;

    private static (KernelScheduler Scheduler, ControlledProcessors Cpus) Boot()
    {
        InterleavingPoints.Enable();
        var cpus = new ControlledProcessors(Cpus);
        return (new KernelScheduler(cpus, new FrozenClock(), new SchedulerOptions(Workers: Cpus, Name: "coyote")), cpus);
    }

    private static Func<Task> Counting(int[] ran, int i) => () => { Interlocked.Increment(ref ran[i]); return Task.CompletedTask; };

    /// <summary>Shutdown returns and no CPU stays parked: every worker loop ends.</summary>
    private static async Task ShutDown(KernelScheduler scheduler, ControlledProcessors cpus)
    {
        await scheduler.DisposeAsync();
        foreach (var loop in cpus.Loops) await loop;
    }

    /// <summary>
    /// Invariant: every task enqueued from outside (the injection queue) runs, exactly once, while the CPUs exist —
    /// whatever point of parking the CPUs are at when it arrives (no lost unpark leaves it stranded with every CPU
    /// asleep); then shutdown returns with no CPU parked forever.
    /// </summary>
    [Test]
    public static async Task EnqueueRacingPark_EveryTaskRuns()
    {
        var (scheduler, cpus) = Boot();
        const int Tasks = 3;
        var ran = new int[Tasks];
        var tasks = new KernelTask[Tasks];
        var producer = Task.Run(() =>
        {
            for (int i = 0; i < Tasks; i++)
            {
                tasks[i] = scheduler.Spawn(Counting(ran, i), $"injected-{i}");
                SchedulingPoint.Interleave();
            }
        });
        await producer;
        foreach (var t in tasks) await t.Completion;
        for (int i = 0; i < Tasks; i++) Specification.Assert(ran[i] == 1, $"task {i} ran {ran[i]} times");
        await ShutDown(scheduler, cpus);
    }

    /// <summary>
    /// Invariant: work a running task queues on its own CPU (a backlog: the other CPU is woken to steal) runs exactly
    /// once, whether the owner or the thief takes it, and whatever point of parking the thief is at; nothing is left
    /// queued while both CPUs sleep.
    /// </summary>
    [Test]
    public static async Task LocalSpawnRacingStealAndPark_EveryChildRunsOnce()
    {
        var (scheduler, cpus) = Boot();
        const int Children = 3;
        var ran = new int[Children];
        var children = new KernelTask[Children];
        var parent = scheduler.Spawn(() =>
        {
            for (int i = 0; i < Children; i++) children[i] = scheduler.Spawn(Counting(ran, i), $"child-{i}");
            return Task.CompletedTask;
        }, "parent");
        await parent.Completion;
        foreach (var c in children) await c.Completion;
        for (int i = 0; i < Children; i++) Specification.Assert(ran[i] == 1, $"child {i} ran {ran[i]} times");
        await ShutDown(scheduler, cpus);
    }

    /// <summary>
    /// Invariant: shutdown racing with parking CPUs and with spawns returns, every CPU loop ends (none parked
    /// forever), and every spawned task has ended: ran exactly once, or canceled without running — never left queued
    /// with nobody to run or cancel it.
    /// </summary>
    [Test]
    public static async Task ShutdownRacingParkAndSpawn_EveryTaskEnds()
    {
        var (scheduler, cpus) = Boot();
        const int Tasks = 3;
        var ran = new int[Tasks];
        var tasks = new KernelTask[Tasks];
        tasks[0] = scheduler.Spawn(Counting(ran, 0), "before-shutdown");
        var producer = Task.Run(() =>
        {
            for (int i = 1; i < Tasks; i++)
            {
                SchedulingPoint.Interleave();
                tasks[i] = scheduler.Spawn(Counting(ran, i), $"racing-{i}");
            }
        });
        var stopper = Task.Run(() => ShutDown(scheduler, cpus));
        await producer;
        await stopper;
        for (int i = 0; i < Tasks; i++) AssertEnded(tasks[i], ran[i], i);
    }

    /// <summary>
    /// Deterministic replay of the bug <see cref="ShutdownRacingParkAndSpawn_EveryTaskEnds"/> found: Spawn passed its
    /// shutdown check, then the whole shutdown ran (the last CPU out cancelled and dropped what was queued), then
    /// Spawn queued the task — or found the scheduler stopped and dropped it — and nobody ever ran or cancelled it:
    /// its Completion never completed. Scripted: the seam point inside Spawn runs the whole shutdown.
    /// </summary>
    [Test]
    public static void Replay_ShutdownBetweenSpawnCheckAndEnqueue_TaskIsCanceled()
    {
        var (scheduler, cpus) = Boot();
        var ran = new int[1];
        bool armed = false, fired = false;
        InterleavingPoints.Script = () =>
        {
            if (!armed || fired || scheduler.IsKernelThread) return;
            fired = true;
            ShutDown(scheduler, cpus).Wait();
        };
        armed = true;
        var task = scheduler.Spawn(Counting(ran, 0), "spawned-into-shutdown");
        InterleavingPoints.Script = null;
        Specification.Assert(fired, "the scripted shutdown did not run inside Spawn");
        AssertEnded(task, ran[0], 0);
        Specification.Assert(task.State == KernelTaskState.Canceled, $"task is {task.State}, expected Canceled");
    }

    private static void AssertEnded(KernelTask task, int ran, int i)
    {
        var state = task.State;
        Specification.Assert(state is KernelTaskState.RanToCompletion or KernelTaskState.Canceled,
            $"task {i} is {state} after shutdown returned: nobody will run or cancel it");
        Specification.Assert(task.Completion.IsCompleted, $"task {i}'s Completion never completes");
        Specification.Assert(ran == (state == KernelTaskState.RanToCompletion ? 1 : 0), $"task {i} is {state} and ran {ran} times");
    }
}
