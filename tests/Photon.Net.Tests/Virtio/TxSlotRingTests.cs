using Photon.Kernel.Drivers.Net;

namespace Photon.Net.Tests.Virtio;

/// <summary>The transmit queue's slot ring (vm16): runs of consecutive slots taken first in first out, a run that would
/// cross the end starting over at slot 0, runs freed in any order and their slots reused only once the older runs are
/// freed too — checked against a model of which slots are held, so no two live runs ever share a slot.</summary>
public sealed class TxSlotRingTests
{
    [Fact]
    public void Runs_are_consecutive_a_run_that_would_cross_the_end_starts_at_zero_and_space_returns_oldest_first()
    {
        var ring = new TxSlotRing(10);
        Assert.True(ring.TryTake(4, out int a, out int fa) && fa == 0);
        Assert.True(ring.TryTake(4, out int b, out int fb) && fb == 4);
        Assert.False(ring.CanTake(3));                        // 2 left at the end, none at the start
        Assert.False(ring.TryTake(3, out _, out _));
        ring.Free(b);                                         // freed behind the older run a: not reusable yet
        Assert.Equal(10, ring.Used + 2);
        Assert.False(ring.CanTake(3));
        ring.Free(a);                                         // both freed: the pool is empty and whole again
        Assert.Equal(0, ring.Used);
        Assert.True(ring.TryTake(7, out int c, out int fc) && fc == 0);
        Assert.True(ring.TryTake(2, out int d, out int fd) && fd == 7);
        ring.Free(c);
        Assert.True(ring.TryTake(5, out int e, out int fe) && fe == 0); // 1 slot at the end is skipped, held by e
        Assert.Equal(2 + 1 + 5, ring.Used);
        ring.Free(d);
        Assert.Equal(6, ring.Used);                           // d and the skipped slot went back; e still holds 5 + 1
        ring.Free(e);
        Assert.Equal(0, ring.Used);
        Assert.Throws<InvalidOperationException>(() => ring.Free(e)); // freed twice
        Assert.False(ring.TryTake(11, out _, out _));         // larger than the pool
    }

    [Fact]
    public void Random_takes_and_out_of_order_frees_never_hand_out_a_held_slot()
    {
        var random = new Random(17);
        const int slots = 64;
        var ring = new TxSlotRing(slots);
        var owner = new int[slots];                           // 0: free, else the run id + 1 holding the slot's bytes
        var live = new List<(int Run, int First, int Count)>();
        for (int step = 0; step < 20_000; step++)
        {
            if (live.Count > 0 && (random.Next(3) == 0 || !ring.CanTake(1)))
            {
                var (run, first, count) = live[random.Next(live.Count)]; // any order, as a device may complete them
                live.Remove((run, first, count));
                for (int s = first; s < first + count; s++) owner[s] = 0;
                ring.Free(run);
                continue;
            }
            int want = 1 + random.Next(33);
            bool could = ring.CanTake(want);
            bool took = ring.TryTake(want, out int r, out int f);
            Assert.Equal(could, took);
            if (!took) continue;
            Assert.InRange(f, 0, slots - want);
            for (int s = f; s < f + want; s++)
            {
                Assert.True(owner[s] == 0, $"step {step}: slot {s} handed out while run {owner[s] - 1} holds it");
                owner[s] = r + 1;
            }
            live.Add((r, f, want));
        }
        foreach (var (run, _, _) in live) ring.Free(run);
        Assert.Equal(0, ring.Used);
    }
}
