using Microsoft.Coyote.SystematicTesting;
using Microsoft.Coyote.Specifications;
using Photon.Kernel.Scheduling;

namespace Photon.Coyote;

/// <summary>
/// A CPU's overflow lane (<see cref="RunLane"/> with one producer): the producer appends without any lock and
/// publishes with a release store of its pushed count, while a consumer under the take lock refills a ring from it
/// and steals halves — the two sides of the lane run at once. Four-slot segments, and spawns (one slot) mixed with
/// other items (three), so the producer links segments, leaves an unused slot at a segment's end and reuses a
/// segment the consumer drained, all while the consumer reads. Race points on (the pushed and taken counts, the kept
/// segments' count): a consumer that read a slot before its publication would find it null and skip or lose an item.
/// Invariants: every item is taken exactly once, whole, oldest first.
/// </summary>
public static class RunLanePublicationRaceTests
{
    private const int Items = 6;
    private static readonly Func<Task> Body = () => Task.CompletedTask;

    [Test]
    public static async Task ProducerRacingRefillAndSteal_TakeEveryItemOnceInOrder()
    {
        InterleavingPoints.Enable();
        var lane = new RunLane(singleProducer: true, segmentSlots: 4);
        var shape = new VoidShape(null!); // the tasks are never started: no scheduler
        var items = new WorkItem[Items];
        for (int i = 0; i < Items; i++)
        {
            // Three-slot, three-slot (no room: a slot left unused), spawn, three-slot, spawn, spawn.
            if (i is 2 or 4 or 5)
            {
                var t = new KernelTask(i, "t", TaskPriority.Normal, Body, shape, default);
                items[i] = new WorkItem(t, null, t);
            }
            else items[i] = new WorkItem(nameof(RunLanePublicationRaceTests), i, null);
        }
        var taken = new int[Items];
        int last = -1;
        bool producing = true;
        void Take(in WorkItem w)
        {
            int i = w.Callback is KernelTask t ? t.Id : (int)w.State!;
            Specification.Assert(w.Callback == items[i].Callback && w.State == items[i].State && w.Owner == items[i].Owner, $"item {i} came out torn");
            Specification.Assert(i > last, $"took {i} after {last}");
            last = i;
            taken[i]++;
        }

        var producer = Task.Run(() =>
        {
            for (int i = 0; i < 4; i++) lane.Push(in items[i]);
            lane.PushRange(items.AsSpan(4, 2));
            Volatile.Write(ref producing, false);
        });
        var ring = new RunRing(2);
        var batch = new WorkItem[2];
        var consumer = Task.Run(() =>
        {
            for (int attempt = 0; attempt <= 2 * Items && (Volatile.Read(ref producing) || lane.Count > 0 || ring.Count > 0); attempt++)
            {
                if (ring.TryPop(out var w)) { Take(in w); continue; }
                if (attempt % 2 == 0) { if (lane.TakeRefilling(out w, ring, 2)) Take(in w); }
                else
                {
                    int got = lane.StealHalf(batch, batch.Length);
                    for (int i = 0; i < got; i++) Take(in batch[i]);
                }
            }
        });
        await producer; await consumer;
        // What the bounded loop left, taken the same way with the producer done.
        while (ring.TryPop(out var w) || lane.TakeRefilling(out w, ring, 2)) Take(in w);
        for (int i = 0; i < Items; i++)
            Specification.Assert(taken[i] == 1, $"item {i} taken {taken[i]} times");
        Specification.Assert(lane.Count == 0, "work left in the lane");
    }
}
