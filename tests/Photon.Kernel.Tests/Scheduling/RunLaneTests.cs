using Photon.Kernel.Scheduling;

namespace Photon.Kernel.Tests.Scheduling;

/// <summary>
/// <see cref="RunLane"/>'s segment queue: items come out in the order they went in, exactly once, whichever mix of
/// pushes, batch pushes, pops and steals moves them across segment boundaries, and an emptied lane keeps working.
/// </summary>
public sealed class RunLaneTests
{
    private static WorkItem Item(int i) => new(nameof(RunLaneTests), i, null);

    [Fact]
    public void A_burst_across_many_segments_comes_out_in_order_through_pops_and_steals()
    {
        var lane = new RunLane();
        const int N = RunLane.SegmentSize * 9 + 17;
        int pushed = 0, expected = 0;
        var batch = new WorkItem[RunLane.SegmentSize + 5];
        // Push in uneven runs (single and batch), taking some between, so the head and tail cross boundaries at
        // different offsets.
        while (pushed < N)
        {
            int run = Math.Min(N - pushed, 1 + pushed % 97);
            if (pushed % 2 == 0)
                for (int i = 0; i < run; i++) lane.Push(Item(pushed++));
            else
            {
                for (int i = 0; i < run; i++) batch[i] = Item(pushed++);
                lane.PushRange(batch.AsSpan(0, run));
            }
            Assert.Equal(pushed - expected, lane.Count);
            if (pushed % 3 == 0 && lane.TryPop(out var w)) Assert.Equal(expected++, (int)w.State!);
        }
        while (lane.Count > 0)
        {
            int got = lane.StealHalf(batch, batch.Length);
            Assert.InRange(got, 1, batch.Length);
            for (int i = 0; i < got; i++) Assert.Equal(expected++, (int)batch[i].State!);
            if (lane.TryPop(out var w)) Assert.Equal(expected++, (int)w.State!);
        }
        Assert.Equal(N, expected);
        Assert.False(lane.TryPop(out _));
        Assert.Equal(0, lane.StealHalf(batch, batch.Length));
    }

    [Fact]
    public void An_emptied_lane_is_reused_and_drain_returns_what_is_left_in_order()
    {
        var lane = new RunLane();
        // Fill and empty repeatedly around a segment's end (drained segments are reused, dropped when idle).
        int next = 0, expected = 0;
        for (int round = 0; round < 5; round++)
        {
            for (int i = 0; i < RunLane.SegmentSize + round; i++) lane.Push(Item(next++));
            while (lane.TryPop(out var w)) Assert.Equal(expected++, (int)w.State!);
            lane.TrimIfIdle();
        }
        Assert.Equal(next, expected);
        for (int i = 0; i < RunLane.SegmentSize * 2 + 3; i++) lane.Push(Item(next++));
        Assert.True(lane.TryPop(out var first));
        Assert.Equal(expected++, (int)first.State!);
        var rest = lane.Drain();
        Assert.Equal(next - expected, rest.Length);
        foreach (var w in rest) Assert.Equal(expected++, (int)w.State!);
        Assert.Equal(0, lane.Count);
        lane.Push(Item(next));
        Assert.True(lane.TryPop(out var again));
        Assert.Equal(next, (int)again.State!);
    }

    [Fact]
    public void A_second_burst_of_the_same_depth_reuses_the_drained_segments()
    {
        var lane = new RunLane();
        var item = Item(0);
        const int Depth = RunLane.SegmentSize * 8;
        void Burst()
        {
            for (int i = 0; i < Depth; i++) lane.Push(in item);
            while (lane.TryPop(out _)) { }
        }
        // Links 8 segments, then keeps the drained ones; the second burst starts in the segment the first one's tail
        // filled (the consumers never rewind the producer's segment: they take no lock of its side), so it links one
        // more. From then on the lane holds a burst's depth and one.
        Burst();
        Burst();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Burst();
        // Not one segment (6 KiB) allocated again; the bound leaves room for anything the runtime itself might add.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < RunLane.SegmentSize * 24);
        lane.TrimIfIdle(); // idle: the kept segments go but one, and the next burst allocates its own again
        Assert.Equal(RunLane.IdleFreeSegments, lane.KeptSegments);
        before = GC.GetAllocatedBytesForCurrentThread();
        Burst();
        // Eight segments deep: the tail's own segment and the one kept, six (or, at an odd offset, seven) allocated.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before >= 6 * RunLane.SegmentSize * 24);
    }
}

/// <summary>
/// <see cref="RunLane"/>'s slots: a spawn's first run (a kernel task as callback and owner) takes one reference, any
/// other item three; mixed, they still come out in order and whole, whichever segment boundary a three-slot item meets.
/// </summary>
public sealed class RunLaneSlotTests
{
    private static readonly Func<Task> Body = () => Task.CompletedTask;
    private static readonly VoidShape NoScheduler = new(null!);

    private static KernelTask NewTask(int id) =>
        new(id, "t", TaskPriority.Normal, Body, NoScheduler, default); // never started: no scheduler needed

    [Fact]
    public void Spawns_and_other_items_mixed_come_out_in_order_with_their_fields_across_segment_ends()
    {
        var lane = new RunLane();
        var random = new Random(11);
        var expected = new Queue<WorkItem>();
        var batch = new WorkItem[40];
        int id = 0;
        for (int step = 0; step < 20_000; step++)
        {
            int op = random.Next(10);
            if (op < 6)
            {
                // Runs of spawns of every length between other items, so a three-slot item lands at every offset
                // of a segment's end, the last one and two slots included.
                WorkItem item;
                if (random.Next(3) == 0) item = new WorkItem(nameof(RunLaneSlotTests), id++, random.Next(2) == 0 ? null : NewTask(-1));
                else
                {
                    var t = NewTask(id++);
                    item = new WorkItem(t, null, t);
                }
                lane.Push(in item);
                expected.Enqueue(item);
            }
            else if (op < 8 && lane.TryPop(out var got)) AssertSame(expected.Dequeue(), got);
            else if (op == 8)
            {
                int n = lane.StealHalf(batch, batch.Length);
                for (int i = 0; i < n; i++) AssertSame(expected.Dequeue(), batch[i]);
            }
            else lane.TrimIfIdle();
            Assert.Equal(expected.Count, lane.Count);
        }
        foreach (var w in lane.Drain()) AssertSame(expected.Dequeue(), w);
        Assert.Empty(expected);
        Assert.False(lane.TryPop(out _));
    }

    [Fact]
    public void A_queued_spawn_takes_one_reference_of_segment_and_any_other_item_three()
    {
        var lane = new RunLane();
        const int Spawns = RunLane.SegmentSlots * 6;
        var tasks = new KernelTask[Spawns];
        for (int i = 0; i < Spawns; i++) tasks[i] = NewTask(i);
        long before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var t in tasks) lane.Push(new WorkItem(t, null, t));
        long spawnBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        // Six segments' worth of spawns link five segments (the first is the lane's own): ~8 B a spawn, not 24.
        Assert.InRange(spawnBytes, 5 * RunLane.SegmentSlots * 8, 6 * RunLane.SegmentSlots * 8);
        for (int i = 0; i < Spawns; i++)
        {
            Assert.True(lane.TryPop(out var w));
            Assert.Same(tasks[i], w.Callback);
            Assert.Same(tasks[i], w.Owner);
            Assert.Null(w.State);
        }
        lane.TrimIfIdle();

        before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < RunLane.SegmentSize * 6; i++) lane.Push(new WorkItem(nameof(RunLaneSlotTests), null, null));
        long otherBytes = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.InRange(otherBytes, 5 * RunLane.SegmentSlots * 8, 6 * RunLane.SegmentSlots * 8); // three slots an item
    }

    private static void AssertSame(WorkItem expected, WorkItem actual)
    {
        Assert.Same(expected.Callback, actual.Callback);
        Assert.Equal(expected.State, actual.State);
        Assert.Same(expected.Owner, actual.Owner);
    }
}
