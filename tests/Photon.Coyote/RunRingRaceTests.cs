using Microsoft.Coyote.Runtime;
using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;
using Photon.Kernel.Scheduling;

namespace Photon.Coyote;

/// <summary>
/// The per-CPU lock-free run ring (<see cref="RunRing"/>): its owner pushes (plain slot write, release store of the
/// tail) and pops (CAS of the head) while a thief takes halves with one CAS. A two-slot ring wraps on every other push,
/// so the owner keeps rewriting slots a thief with a stale head may be reading: the CAS must reject every such read.
/// Coyote interleaves at each volatile and atomic access (the head and tail reads, the slot's claim, the tail's
/// publication after a slot write). Invariant: every pushed item is taken exactly once, by someone.
/// </summary>
public static class RunRingRaceTests
{
    private const int Items = 6;

    [Test]
    public static async Task RingOwnerAndThief_TakeEveryItemExactlyOnce()
    {
        InterleavingPoints.Enable();
        var ring = new RunRing(2);
        var taken = new int[Items];
        bool producing = true;
        void Take(in WorkItem w) => Interlocked.Increment(ref taken[(int)w.State!]);

        var ownerCpu = Task.Run(() =>
        {
            for (int i = 0; i < Items; i++)
            {
                var item = new WorkItem(nameof(RunRingRaceTests), i, null);
                // Full: the owner runs one itself to make room (as a CPU would overflow elsewhere; here it must not lose it).
                while (!ring.TryPush(item)) { if (ring.TryPop(out var w)) Take(w); }
                if (i % 3 == 2 && ring.TryPop(out var mine)) Take(mine);
            }
            Volatile.Write(ref producing, false);
            while (ring.TryPop(out var w)) Take(w);
        });
        var thiefCpu = Task.Run(() =>
        {
            var batch = new WorkItem[2];
            for (int attempt = 0; attempt <= Items && (Volatile.Read(ref producing) || ring.Count > 0); attempt++)
            {
                int got = ring.StealHalf(batch, batch.Length);
                for (int i = 0; i < got; i++) Take(batch[i]);
                Array.Clear(batch);
                if (ring.TryPop(out var w)) Take(w);
            }
        });
        await ownerCpu; await thiefCpu;
        for (int i = 0; i < Items; i++)
            Specification.Assert(taken[i] == 1, $"item {i} taken {taken[i]} times");
        Specification.Assert(ring.Count == 0, "work left in the ring");
    }

    /// <summary>The lane (ring in front of the locked overflow): the owner overflows a two-slot ring and refills it
    /// while a thief steals from the ring or the overflow, as Worker.TrySteal does. Race points are not skipped, so the
    /// ring's accesses interleave too; one taken inside the overflow's lock makes Coyote wait out its deadlock timeout
    /// (it cannot see that lock), which slows the path but does not change it.</summary>
    [Test]
    public static async Task LaneOwnerAndThief_TakeEveryItemExactlyOnceInOwnerOrder()
    {
        InterleavingPoints.Enable();
        var lane = new LocalRunLane(2);
        var taken = new int[Items];
        int lastOwnerTaken = -1;
        bool producing = true;
        void Take(in WorkItem w) => Interlocked.Increment(ref taken[(int)w.State!]);
        void OwnerTake(in WorkItem w)
        {
            int i = (int)w.State!;
            Specification.Assert(i > lastOwnerTaken, $"the owner took {i} after {lastOwnerTaken}");
            lastOwnerTaken = i;
            Take(w);
        }

        var ownerCpu = Task.Run(() =>
        {
            for (int i = 0; i < Items; i++)
            {
                lane.Push(new WorkItem(nameof(RunRingRaceTests), i, null));
                SchedulingPoint.Interleave();
                if (i % 3 == 2 && lane.TryPop(out var w)) OwnerTake(w);
            }
            Volatile.Write(ref producing, false);
            while (lane.TryPop(out var w)) { OwnerTake(w); SchedulingPoint.Interleave(); }
        });
        var thiefCpu = Task.Run(() =>
        {
            var batch = new WorkItem[2];
            for (int attempt = 0; attempt <= Items && (Volatile.Read(ref producing) || lane.Count > 0); attempt++)
            {
                int got = lane.StealHalf(batch, batch.Length);
                for (int i = 0; i < got; i++) Take(batch[i]);
                Array.Clear(batch);
                SchedulingPoint.Interleave();
            }
        });
        await ownerCpu; await thiefCpu;
        for (int i = 0; i < Items; i++)
            Specification.Assert(taken[i] == 1, $"item {i} taken {taken[i]} times");
        Specification.Assert(lane.Count == 0, "work left in the lane");
    }

    /// <summary>A batch from the shared injection queue moved straight into the owner's ring
    /// (<see cref="LocalRunLane.TryTakeBatch"/>, the slots written under the shared lane's lock and published with one
    /// tail store) while an outside spawner keeps pushing into the shared lane and a thief steals from the ring. Race
    /// points on, as for the lane test above. Invariants: every item is taken exactly once, and the owner takes its
    /// items oldest first.</summary>
    [Test]
    public static async Task SharedBatchIntoRingRacingThief_TakeEveryItemExactlyOnceInOwnerOrder()
    {
        InterleavingPoints.Enable();
        var shared = new RunLane();
        var lane = new LocalRunLane(2);
        var taken = new int[Items];
        int lastOwnerTaken = -1;
        bool producing = true;
        void Take(in WorkItem w) => Interlocked.Increment(ref taken[(int)w.State!]);
        void OwnerTake(in WorkItem w)
        {
            int i = (int)w.State!;
            Specification.Assert(i > lastOwnerTaken, $"the owner took {i} after {lastOwnerTaken}");
            lastOwnerTaken = i;
            Take(w);
        }

        var spawner = Task.Run(() =>
        {
            for (int i = 0; i < Items; i++)
            {
                shared.Push(new WorkItem(nameof(RunRingRaceTests), i, null));
                SchedulingPoint.Interleave();
            }
            Volatile.Write(ref producing, false);
        });
        var ownerCpu = Task.Run(() =>
        {
            for (int attempt = 0; attempt <= 2 * Items && (Volatile.Read(ref producing) || shared.Count > 0 || lane.Count > 0); attempt++)
            {
                if (lane.TryPop(out var w) || lane.TryTakeBatch(shared, 3, out w)) OwnerTake(w);
                SchedulingPoint.Interleave();
            }
        });
        var thiefCpu = Task.Run(() =>
        {
            var batch = new WorkItem[2];
            for (int attempt = 0; attempt <= Items && (Volatile.Read(ref producing) || lane.Count > 0); attempt++)
            {
                int got = lane.StealHalf(batch, batch.Length);
                for (int i = 0; i < got; i++) Take(batch[i]);
                Array.Clear(batch);
                SchedulingPoint.Interleave();
            }
        });
        await spawner; await ownerCpu; await thiefCpu;
        // What the bounded loops left: the owner, alone now, takes it the same way.
        while (lane.TryPop(out var w) || lane.TryTakeBatch(shared, 3, out w)) OwnerTake(w);
        for (int i = 0; i < Items; i++)
            Specification.Assert(taken[i] == 1, $"item {i} taken {taken[i]} times");
        Specification.Assert(lane.Count == 0 && shared.Count == 0, "work left in the lanes");
    }
}
