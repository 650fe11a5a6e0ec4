using Photon.Kernel.Diagnostics.Tracing;

namespace Photon.Kernel.Tests.Diagnostics;

public sealed class TraceRingTests
{
    private static TraceRecord Numbered(long n) => new(n, 0, n, 0, null, TracePoint.TaskWake, TracePhase.Instant);

    [Fact]
    public void A_full_ring_overwrites_the_oldest_records_and_counts_them_as_dropped()
    {
        var ring = new TraceRing(16, 1, "t");
        for (int i = 0; i < 40; i++) ring.Write(Numbered(i));
        var kept = ring.Snapshot();
        Assert.Equal(16, kept.Length);
        Assert.Equal(Enumerable.Range(24, 16).Select(i => (long)i), kept.Select(r => r.A0)); // the newest, oldest first
        Assert.Equal(24, ring.Dropped);
        Assert.Equal(40, ring.Written);
    }

    [Fact]
    public void A_ring_that_never_filled_keeps_everything_and_drops_nothing()
    {
        var ring = new TraceRing(10, 1, "t"); // rounded up to 16
        Assert.Equal(16, ring.Capacity);
        for (int i = 0; i < 16; i++) ring.Write(Numbered(i));
        Assert.Equal(0, ring.Dropped);
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (long)i), ring.Snapshot().Select(r => r.A0));
    }
}
