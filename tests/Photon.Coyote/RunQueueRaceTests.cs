using Microsoft.Coyote.Runtime;
using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;
using Photon.Kernel.Scheduling;

namespace Photon.Coyote;

/// <summary>
/// Work stealing between two CPUs' run lanes (<see cref="RunLane"/>): the owner pushes and pops its own lane while a
/// thief steals half of it in batches into its lane and runs from there, as Worker.TrySteal does. Each lane operation
/// is one locked section, so interleaving whole operations (a scheduling point between each) covers every order in
/// which they take effect. Invariant: every pushed item runs exactly once — none lost, none duplicated — and the
/// lanes are empty at the end.
/// </summary>
public static class RunQueueRaceTests
{
    [Test]
    public static async Task OwnerAndThief_RunEveryItemExactlyOnce()
    {
        InterleavingPoints.Enable();
        const int Items = 6;
        var owner = new RunLane();
        var thief = new RunLane();
        var ran = new int[Items];
        void RunItem(in WorkItem w) => Interlocked.Increment(ref ran[(int)w.State!]);
        bool producing = true;

        var ownerCpu = Task.Run(() =>
        {
            for (int i = 0; i < Items; i++)
            {
                owner.Push(new WorkItem(nameof(RunQueueRaceTests), i, null));
                SchedulingPoint.Interleave();
                if (i % 2 == 1 && owner.TryPop(out var w)) RunItem(w);
                SchedulingPoint.Interleave();
            }
            Volatile.Write(ref producing, false);
            while (owner.TryPop(out var w)) { RunItem(w); SchedulingPoint.Interleave(); }
        });
        var thiefCpu = Task.Run(() =>
        {
            var batch = new WorkItem[4];
            // Bounded: a thief that polled until the owner finished could be picked forever by the strategy and run
            // the path to Coyote's step bound. Items + 1 attempts still let it steal at every point of the owner's
            // run; whatever it leaves is run by the owner's final drain, so the invariant is unchanged.
            for (int attempt = 0; attempt <= Items && (Volatile.Read(ref producing) || owner.Count > 0); attempt++)
            {
                int got = owner.StealHalf(batch, batch.Length);
                if (got > 0)
                {
                    RunItem(batch[0]);
                    thief.PushRange(batch.AsSpan(1, got - 1));
                    Array.Clear(batch);
                }
                SchedulingPoint.Interleave();
                if (thief.TryPop(out var w)) RunItem(w);
                SchedulingPoint.Interleave();
            }
            while (thief.TryPop(out var w)) RunItem(w);
        });
        await ownerCpu; await thiefCpu;
        for (int i = 0; i < Items; i++)
            Specification.Assert(ran[i] == 1, $"item {i} ran {ran[i]} times");
        Specification.Assert(owner.Count == 0 && thief.Count == 0, "work left in a lane");
    }
}
