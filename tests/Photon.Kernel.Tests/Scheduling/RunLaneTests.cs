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
        Burst(); // links 8 segments, then keeps the drained ones
        long before = GC.GetAllocatedBytesForCurrentThread();
        Burst();
        // Not one segment (6 KiB) allocated again; the bound leaves room for anything the runtime itself might add.
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < RunLane.SegmentSize * 24);
        lane.TrimIfIdle(); // idle: the kept segments go, and the next burst allocates its own again
        before = GC.GetAllocatedBytesForCurrentThread();
        Burst();
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before >= 7 * RunLane.SegmentSize * 24);
    }
}
