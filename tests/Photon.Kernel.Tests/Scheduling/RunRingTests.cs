using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

/// <summary>
/// The per-CPU lock-free run ring (<see cref="RunRing"/>) and the lane built from it (<see cref="LocalRunLane"/>: the
/// ring in front of a locked overflow): FIFO through wrap-around and overflow, a full ring refuses, the owner's refill
/// from the overflow keeps the order, and under real threads (one owner pushing and popping, thieves stealing) every
/// item is taken exactly once. Counts, not times.
/// </summary>
public sealed class RunRingTests
{
    private static WorkItem Item(int i) => new(nameof(RunRingTests), i, null);

    [Fact]
    public void A_ring_is_fifo_across_wrap_around_and_refuses_a_push_when_full()
    {
        var ring = new RunRing(8);
        int next = 0, expected = 0;
        var batch = new WorkItem[8];
        for (int round = 0; round < 50; round++)
        {
            while (ring.TryPush(Item(next))) next++;
            Assert.Equal(8, ring.Count);
            Assert.Equal(0, ring.Free);
            // Take a varying number (single pops and half-steals) so the head wraps at every offset.
            for (int i = 0; i < round % 7; i++) { Assert.True(ring.TryPop(out var w)); Assert.Equal(expected++, (int)w.State!); }
            int got = ring.StealHalf(batch, 3);
            for (int i = 0; i < got; i++) Assert.Equal(expected++, (int)batch[i].State!);
            for (int i = 0; i < round % 4; i++) batch[i] = Item(next++);
            int pushed = ring.TryPushRange(batch.AsSpan(0, round % 4));
            next -= round % 4 - pushed; // what did not fit was not queued
        }
        while (ring.TryPop(out var w)) Assert.Equal(expected++, (int)w.State!);
        Assert.Equal(next, expected);
        Assert.Equal(0, ring.Count);
        ring.ClearIfEmpty();
        Assert.True(ring.TryPush(Item(next)));
        Assert.True(ring.TryPop(out var last));
        Assert.Equal(next, (int)last.State!);
    }

    [Fact]
    public void Going_idle_clears_exactly_the_slots_written_since_the_last_clear_and_drops_their_items()
    {
        var ring = new RunRing(8);
        var kept = new List<WeakReference>();
        void RunThrough(int n)
        {
            for (int i = 0; i < n; i++)
            {
                var state = new object();
                kept.Add(new WeakReference(state));
                Assert.True(ring.TryPush(new WorkItem(nameof(RunRingTests), state, null)));
                Assert.True(ring.TryPop(out _));
            }
        }

        RunThrough(6);
        Assert.Equal(6, ring.WrittenSinceClear);
        ring.ClearIfEmpty();
        Assert.Equal(0, ring.WrittenSinceClear);
        RunThrough(5); // slots 6, 7, 0, 1, 2: the clear wraps past the end
        Assert.Equal(5, ring.WrittenSinceClear);
        Assert.True(ring.TryPush(Item(99))); // something queued: the idle clear leaves the ring alone
        ring.ClearIfEmpty();
        Assert.Equal(6, ring.WrittenSinceClear);
        Assert.True(ring.TryPop(out _));
        ring.ClearIfEmpty();
        Assert.Equal(0, ring.WrittenSinceClear);
        RunThrough(20); // more than a ring's worth: the whole ring is cleared
        Assert.Equal(8, ring.WrittenSinceClear);
        ring.ClearIfEmpty();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.All(kept, w => Assert.False(w.IsAlive)); // no finished item is pinned by a slot the clear skipped
    }

    /// <summary>A thief takes a busy CPU's overflow (its ring drained) straight into its own ring: the oldest items,
    /// at most half of them and at most the batch, in order; not while its own overflow holds items (they must stay
    /// ahead of the batch).</summary>
    [Fact]
    public void A_thief_takes_half_of_a_victims_overflow_into_its_ring_oldest_first()
    {
        var victim = new LocalRunLane(4);
        var thief = new LocalRunLane(8);
        for (int i = 0; i < 24; i++) victim.Push(Item(i)); // 4 in the ring, 20 in the overflow
        Assert.False(thief.TryStealOverflowInto(victim, 16, out _)); // not while the victim's ring holds older items
        var ringItems = new WorkItem[4];
        int stolen = 0;
        while (victim.RingCount > 0) stolen += victim.StealHalf(ringItems, 4); // the ring's items, halves at a time
        Assert.Equal(4, stolen);

        Assert.True(thief.TryStealOverflowInto(victim, 6, out var first)); // the batch bound: 6 of 20
        Assert.Equal(4, (int)first.State!);
        Assert.Equal(5, thief.RingCount);
        Assert.Equal(14, victim.Count);
        for (int i = 5; i < 10; i++) { Assert.True(thief.TryPop(out var w)); Assert.Equal(i, (int)w.State!); }

        Assert.True(thief.TryStealOverflowInto(victim, 100, out first)); // half of 14, and the ring has room for them
        Assert.Equal(10, (int)first.State!);
        Assert.Equal(6, thief.RingCount);
        Assert.Equal(7, victim.Count);

        // With items of its own in its overflow, the thief takes nothing this way (they would run after the batch).
        for (int i = 100; i < 104; i++) thief.Push(Item(i)); // the ring's last two slots, then the overflow
        Assert.False(thief.TryStealOverflowInto(victim, 100, out _));
        Assert.Equal(7, victim.Count);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(12345)]
    public void A_lane_keeps_fifo_order_through_its_overflow_and_refills(int seed)
    {
        var lane = new LocalRunLane(4);
        var random = new Random(seed);
        var batch = new WorkItem[16];
        int next = 0, expected = 0;
        for (int step = 0; step < 5_000; step++)
        {
            switch (random.Next(4))
            {
                case 0: lane.Push(Item(next++)); break;
                case 1:
                    int n = random.Next(1, batch.Length);
                    for (int i = 0; i < n; i++) batch[i] = Item(next++);
                    lane.PushRange(batch.AsSpan(0, n));
                    break;
                case 2: if (lane.TryPop(out var w)) Assert.Equal(expected++, (int)w.State!); break;
                default:
                    // A thief's steal takes the oldest (the ring's, or the overflow's front once the ring is empty).
                    int got = lane.StealHalf(batch, random.Next(1, 8));
                    for (int i = 0; i < got; i++) Assert.Equal(expected++, (int)batch[i].State!);
                    break;
            }
            Assert.Equal(next - expected, lane.Count);
        }
        foreach (var w in lane.Drain()) Assert.Equal(expected++, (int)w.State!);
        Assert.Equal(next, expected);
        Assert.Equal(0, lane.Count);
    }

    [Fact]
    public void A_batch_from_the_shared_queue_goes_straight_into_the_ring_in_order_and_only_behind_an_empty_overflow()
    {
        var shared = new RunLane();
        var lane = new LocalRunLane(4);
        for (int i = 0; i < 20; i++) shared.Push(Item(i));
        lane.Push(Item(100));
        // The first runs now; the next ones fill the ring's free slots (3 of 4) behind its item, capped by max.
        Assert.True(lane.TryTakeBatch(shared, 8, out var first));
        Assert.Equal(0, (int)first.State!);
        Assert.Equal(4, lane.Count);
        Assert.Equal(16, shared.Count);
        foreach (int expected in new[] { 100, 1, 2, 3 }) { Assert.True(lane.TryPop(out var w)); Assert.Equal(expected, (int)w.State!); }
        // An empty ring takes at most max items in all.
        Assert.True(lane.TryTakeBatch(shared, 2, out first));
        Assert.Equal(4, (int)first.State!);
        Assert.Equal(1, lane.Count);
        Assert.True(lane.TryPop(out var next));
        Assert.Equal(5, (int)next.State!);
        // Items in the overflow are older than any batch: the lane refuses, taking nothing.
        for (int i = 0; i < 5; i++) lane.Push(Item(200 + i));
        Assert.False(lane.TryTakeBatch(shared, 8, out _));
        Assert.Equal(14, shared.Count);
        Assert.Equal(5, lane.Count);
        // Every item exactly once, in order, whichever way it is taken.
        var rest = new List<int>();
        while (lane.TryPop(out var w)) rest.Add((int)w.State!);
        while (lane.TryTakeBatch(shared, 3, out var w)) { rest.Add((int)w.State!); while (lane.TryPop(out var v)) rest.Add((int)v.State!); }
        Assert.Equal([200, 201, 202, 203, 204, .. Enumerable.Range(6, 14)], rest);
        Assert.Equal(0, shared.Count);
        Assert.False(lane.TryTakeBatch(shared, 8, out _));
    }

    [Fact]
    public void An_owner_and_two_thieves_on_real_threads_take_every_item_exactly_once()
    {
        const int N = 400_000;
        var lane = new LocalRunLane(64); // small: the ring wraps and overflows constantly
        var taken = new int[N];
        int done = 0;
        void Take(in WorkItem w) => Interlocked.Increment(ref taken[(int)w.State!]);
        var thieves = Enumerable.Range(0, 2).Select(_ => new Thread(() =>
        {
            var batch = new WorkItem[32];
            while (Volatile.Read(ref done) == 0 || lane.Count > 0)
            {
                int got = lane.StealHalf(batch, batch.Length);
                for (int i = 0; i < got; i++) Take(batch[i]);
                if (got == 0) Thread.Yield();
            }
        })).ToArray();
        foreach (var t in thieves) t.Start();
        var range = new WorkItem[7];
        for (int i = 0; i < N;)
        {
            if (i % 3 == 0 && i + range.Length <= N)
            {
                for (int k = 0; k < range.Length; k++) range[k] = Item(i++);
                lane.PushRange(range);
            }
            else lane.Push(Item(i++));
            if (i % 5 == 0 && lane.TryPop(out var w)) Take(w);
        }
        while (lane.TryPop(out var w)) Take(w);
        Volatile.Write(ref done, 1);
        foreach (var t in thieves) Assert.True(t.Join(TimeSpan.FromSeconds(60)));
        for (int i = 0; i < N; i++) Assert.True(taken[i] == 1, $"item {i} taken {taken[i]} times");
    }
}
