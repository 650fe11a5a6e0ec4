using Photon.Net.Tcp;

namespace Photon.Net.Tests;

/// <summary>CUBIC's window (RFC 9438): β = 0.7 reduction, the cubic climb back to W_max around time K, probing past it,
/// the Reno-friendly region, fast convergence and timeouts.</summary>
public sealed class CubicTests
{
    private const int Mss = 1000;
    private static readonly TimeSpan Rtt = TimeSpan.FromMilliseconds(100);

    /// <summary>Feeds one window's worth of ACKs per RTT for <paramref name="rtts"/> RTTs; returns the time reached.</summary>
    private static TimeSpan Run(Cubic cc, TimeSpan start, int rtts)
    {
        var now = start;
        for (int r = 0; r < rtts; r++)
        {
            long segments = cc.Window / Mss;
            for (long i = 0; i < segments; i++) cc.OnAck(Mss, now, Rtt);
            now += Rtt;
        }
        return now;
    }

    private static Cubic AfterLossAt(int segments)
    {
        var cc = new Cubic();
        cc.Start(Mss, sack: true);
        while (cc.Window < segments * Mss) cc.OnAck(Mss, TimeSpan.Zero, Rtt); // slow start up to the size
        cc.OnFastRetransmit(flight: cc.Window);
        cc.OnRecoveryEnd();
        return cc;
    }

    [Fact]
    public void Slow_start_grows_by_the_bytes_a_stretch_ack_covers_and_doubles_each_round_trip()
    {
        // Issue #17: the host's stack acknowledged each 64 KiB TSO burst with one stretch ACK; growing one MSS per ACK
        // left the window near 115 KB for a whole 8 MiB transfer.
        var cc = new Cubic();
        cc.Start(Mss, sack: true);
        for (int rtt = 0; rtt < 5; rtt++)
        {
            long before = cc.Window, flight = cc.Window;
            for (long acked = 0; acked < flight; acked += 45 * Mss) cc.OnAck(Math.Min(45 * Mss, flight - acked), TimeSpan.Zero, Rtt);
            Assert.Equal(2 * before, cc.Window);
        }
    }

    [Fact]
    public void A_loss_reduces_the_window_to_seven_tenths_not_half()
    {
        var cc = AfterLossAt(100);
        Assert.Equal(70 * Mss, cc.Window);
        Assert.Equal(70 * Mss, cc.SlowStartThreshold);
        Assert.Equal(100 * Mss, cc.LastMaximum);
    }

    [Fact]
    public void The_window_climbs_back_to_the_old_maximum_around_K_then_probes_beyond_it()
    {
        var cc = AfterLossAt(100);
        // K = cbrt(W_max·(1−β)/C) = cbrt(100·0.3/0.4) ≈ 4.2 s = 42 RTTs.
        var now = Run(cc, TimeSpan.FromSeconds(10), 10);
        long early = cc.Window;
        Assert.InRange(early, 71 * Mss, 99 * Mss);          // concave: growing towards W_max ...
        now = Run(cc, now, 30);
        Assert.InRange(cc.Window, 94 * Mss, 101 * Mss);     // ... flattening out just below it (plateau around K)
        long plateau = cc.Window;
        Run(cc, now, 40);                                   // t − K ≈ 3.8 s: 0.4·3.8³ ≈ 22 segments past W_max
        Assert.True(cc.Window > plateau + 15 * Mss, $"convex probing beyond W_max: {cc.Window / Mss} segments");
        // NewReno halves to 50 and gains one segment per RTT; CUBIC's first 10 RTTs alone regained more than 10.
        Assert.True(early - 70 * Mss > 10 * Mss);
    }

    [Fact]
    public void With_short_rtts_and_small_windows_the_reno_friendly_estimate_leads()
    {
        var cc = AfterLossAt(10);
        var now = TimeSpan.FromSeconds(1);
        // 1 ms RTTs: the cubic curve barely moves in 200 ms, Reno's estimate (α ≈ 0.53 segment per RTT) does.
        for (int r = 0; r < 200; r++)
        {
            long segments = Math.Max(1, cc.Window / Mss);
            for (long i = 0; i < segments; i++) cc.OnAck(Mss, now, TimeSpan.FromMilliseconds(1));
            now += TimeSpan.FromMilliseconds(1);
        }
        Assert.True(cc.Window > 50 * Mss, $"{cc.Window / Mss} segments");
    }

    [Fact]
    public void Fast_convergence_lowers_the_remembered_maximum_after_a_loss_below_it()
    {
        var cc = AfterLossAt(100);            // W_max 100, window 70
        cc.OnFastRetransmit(flight: cc.Window); // another loss at 70 < 100
        Assert.Equal((long)(70 * Mss * (1 + 0.7) / 2), cc.LastMaximum);
    }

    [Fact]
    public void A_timeout_collapses_the_window_to_one_segment_and_slow_start_resumes()
    {
        var cc = AfterLossAt(100);
        cc.OnTimeout(flight: 70 * Mss);
        Assert.Equal(Mss, cc.Window);
        Assert.Equal(49 * Mss, cc.SlowStartThreshold);
        cc.OnAck(Mss, TimeSpan.FromSeconds(20), Rtt);
        Assert.Equal(2 * Mss, cc.Window);
    }
}
