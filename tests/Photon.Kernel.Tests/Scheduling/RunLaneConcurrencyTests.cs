using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

/// <summary>
/// <see cref="RunLane"/>: a CPU's own overflow lane pushes without a lock, so a push runs concurrently with a pop, a
/// batch into a ring or a steal; a lane with many producers has them share the consumers' lock. On real threads, with
/// seven-slot segments so both sides cross segment ends (and reuse drained segments) all the time, and spawns (one
/// slot) mixed with other items (three): every item comes out exactly once and whole, and each consumer sees each producer's items in the
/// order they were pushed.
/// </summary>
public sealed class RunLaneConcurrencyTests
{
    private const int SegmentSlots = 7;
    private static readonly Func<Task> Body = () => Task.CompletedTask;
    private static readonly VoidShape NoScheduler = new(null!);

    [Fact]
    public void One_producer_without_a_lock_racing_a_ring_owner_and_a_thief_delivers_every_item_once_in_order() =>
        Race(new RunLane(singleProducer: true, segmentSlots: SegmentSlots), producers: 1, perProducer: 120_000);

    [Fact]
    public void Two_producers_racing_a_ring_owner_and_a_thief_deliver_every_item_once_in_each_producers_order() =>
        Race(new RunLane(segmentSlots: SegmentSlots), producers: 2, perProducer: 60_000);

    private static void Race(RunLane lane, int producers, int perProducer)
    {
        int total = producers * perProducer;
        // Item i of producer p is number p * perProducer + i; a spawn's number is its task's id, another item's its state.
        var tasks = new KernelTask[total];
        for (int n = 0; n < total; n++)
            if (n % 3 != 0) tasks[n] = new KernelTask(n, "t", TaskPriority.Normal, Body, NoScheduler, default); // never started
        var seen = new int[total];
        int remaining = total;
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();

        // A consumer checks what it took: whole, and after the last item it took from the same producer.
        void Took(in WorkItem w, int[] lastOf)
        {
            int n;
            if (w.Callback is KernelTask t)
            {
                n = t.Id;
                if (w.State is not null || !ReferenceEquals(w.Owner, t)) failures.Enqueue($"spawn {n} came out torn");
            }
            else
            {
                n = (int)w.State!;
                if (w.Owner is not null || !ReferenceEquals(w.Callback, nameof(RunLaneConcurrencyTests))) failures.Enqueue($"item {n} came out torn");
            }
            int p = n / perProducer;
            if (n <= lastOf[p]) failures.Enqueue($"item {n} after {lastOf[p]} of the same producer");
            lastOf[p] = n;
            if (Interlocked.Increment(ref seen[n]) != 1) failures.Enqueue($"item {n} taken twice");
            Interlocked.Decrement(ref remaining);
        }

        var threads = new List<Thread>();
        for (int p = 0; p < producers; p++)
        {
            int first = p * perProducer;
            threads.Add(new Thread(() =>
            {
                var batch = new WorkItem[5];
                for (int i = 0; i < perProducer;)
                {
                    // Single pushes and batches of up to five, spawns and other items mixed.
                    int count = Math.Min(1 + i % 5, perProducer - i);
                    for (int k = 0; k < count; k++)
                    {
                        int n = first + i + k;
                        batch[k] = tasks[n] is { } t ? new WorkItem(t, null, t) : new WorkItem(nameof(RunLaneConcurrencyTests), n, null);
                    }
                    if (count == 1) lane.Push(in batch[0]);
                    else lane.PushRange(batch.AsSpan(0, count));
                    i += count;
                }
            }));
        }
        threads.Add(new Thread(() =>
        {
            // The ring's owner: pops and refills its ring from the lane, as a CPU does from its overflow.
            var ring = new RunRing(8);
            var lastOf = Enumerable.Repeat(-1, producers).ToArray();
            while (Volatile.Read(ref remaining) > 0)
            {
                if (ring.TryPop(out var w) || lane.TakeRefilling(out w, ring, 6)) Took(in w, lastOf);
                else Thread.Yield();
            }
        }));
        threads.Add(new Thread(() =>
        {
            var into = new WorkItem[4];
            var lastOf = Enumerable.Repeat(-1, producers).ToArray();
            while (Volatile.Read(ref remaining) > 0)
            {
                int got = lane.StealHalf(into, into.Length);
                for (int i = 0; i < got; i++) Took(in into[i], lastOf);
                if (got == 0 && lane.TryPop(out var w)) Took(in w, lastOf);
                if (got == 0) Thread.Yield();
            }
        }));
        foreach (var t in threads) t.Start();
        Assert.True(threads.All(t => t.Join(TimeSpan.FromMinutes(2))), $"{Volatile.Read(ref remaining)} items never came out");
        Assert.Empty(failures);
        Assert.All(seen, count => Assert.Equal(1, count));
        Assert.Equal(0, lane.Count);
        Assert.Empty(lane.Drain());
    }
}
