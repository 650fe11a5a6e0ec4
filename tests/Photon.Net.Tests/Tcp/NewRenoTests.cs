using Photon.Net.Tcp;

namespace Photon.Net.Tests;

/// <summary>NewReno's window through slow start, congestion avoidance, fast recovery (with and without SACK) and a
/// timeout (RFC 5681, RFC 6582, RFC 6928).</summary>
public sealed class NewRenoTests
{
    private const int Mss = 1000;

    [Fact]
    public void Slow_start_then_fast_recovery_with_inflation_partial_acks_and_exit_then_avoidance_then_timeout()
    {
        var cc = new NewReno();
        cc.Start(Mss, sack: false);
        Assert.Equal(10 * Mss, cc.Window);                     // initial window of ten segments
        cc.OnAck(Mss, TimeSpan.Zero, TimeSpan.Zero);
        Assert.Equal(11 * Mss, cc.Window);
        cc.OnAck(Mss, TimeSpan.Zero, TimeSpan.Zero);
        Assert.Equal(12 * Mss, cc.Window);

        cc.OnFastRetransmit(flight: 20 * Mss);
        Assert.True(cc.InRecovery);
        Assert.Equal(10 * Mss, cc.SlowStartThreshold);         // half the flight
        Assert.Equal(13 * Mss, cc.Window);                     // + three segments the duplicates stand for
        cc.OnDuplicateAckInRecovery();
        Assert.Equal(14 * Mss, cc.Window);                     // inflation
        cc.OnPartialAck(3 * Mss);
        Assert.Equal(12 * Mss, cc.Window);                     // deflate by what was acked, add one back
        Assert.True(cc.InRecovery);
        cc.OnRecoveryEnd();
        Assert.False(cc.InRecovery);
        Assert.Equal(10 * Mss, cc.Window);                     // back to the threshold

        cc.OnAck(Mss, TimeSpan.Zero, TimeSpan.Zero);
        Assert.Equal(10 * Mss + Mss * Mss / (10 * Mss), cc.Window); // congestion avoidance: one MSS per window

        cc.OnTimeout(flight: 8 * Mss);
        Assert.Equal((Mss, 4L * Mss, false), (cc.Window, cc.SlowStartThreshold, cc.InRecovery));
        cc.OnAck(Mss, TimeSpan.Zero, TimeSpan.Zero);
        Assert.Equal(2 * Mss, cc.Window);                      // slow start again
    }

    [Fact]
    public void With_sack_the_window_is_the_threshold_during_recovery_and_the_threshold_never_drops_below_two_segments()
    {
        var cc = new NewReno();
        cc.Start(Mss, sack: true);
        cc.OnFastRetransmit(flight: 3 * Mss);
        Assert.Equal(2 * Mss, cc.SlowStartThreshold);         // max(flight / 2, 2 MSS)
        Assert.Equal(2 * Mss, cc.Window);
        cc.OnDuplicateAckInRecovery();
        cc.OnPartialAck(Mss);
        Assert.Equal(2 * Mss, cc.Window);                      // the pipe paces SACK recovery, not the window
        cc.OnRecoveryEnd();
        Assert.Equal(2 * Mss, cc.Window);
    }

    [Fact]
    public void Slow_start_grows_by_the_bytes_a_stretch_ack_covers_and_doubles_each_round_trip()
    {
        // A receiver that acknowledges each 64 KiB TSO burst once (the host's stack with GRO) sends one ACK per ~45
        // segments: counting ACKs instead of bytes would grow the window by 1/45 of that.
        var cc = new NewReno();
        cc.Start(Mss, sack: true);
        for (int rtt = 0; rtt < 4; rtt++)
        {
            long before = cc.Window, flight = cc.Window;
            for (long acked = 0; acked < flight; acked += 45 * Mss) cc.OnAck(Math.Min(45 * Mss, flight - acked), TimeSpan.Zero, TimeSpan.Zero);
            Assert.Equal(2 * before, cc.Window);
        }
        // Past the threshold the surplus of an ACK counts as congestion avoidance (one MSS per window's bytes).
        cc.OnFastRetransmit(flight: 100 * Mss);
        cc.OnRecoveryEnd();
        Assert.Equal(50 * Mss, cc.Window);
        cc.OnAck(50 * Mss, TimeSpan.Zero, TimeSpan.Zero);
        Assert.Equal(51 * Mss, cc.Window);
    }

    [Fact]
    public void The_window_is_capped()
    {
        var cc = new NewReno();
        cc.Start(Mss, sack: false);
        for (int i = 0; i < 100_000; i++) cc.OnAck(Mss, TimeSpan.Zero, TimeSpan.Zero);
        Assert.Equal(64L << 20, cc.Window);
    }
}
