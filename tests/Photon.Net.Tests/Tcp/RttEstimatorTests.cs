using Photon.Net.Tcp;

namespace Photon.Net.Tests;

/// <summary>RFC 6298's retransmission timer, step by step.</summary>
public sealed class RttEstimatorTests
{
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);
    private static RttEstimator New() => new(initialRto: TimeSpan.FromSeconds(1), minRto: Ms(200), maxRto: TimeSpan.FromSeconds(60), granularity: Ms(10));

    [Fact]
    public void The_first_sample_sets_srtt_and_half_of_it_as_rttvar_and_later_ones_smooth_by_an_eighth_and_a_quarter()
    {
        var rtt = New();
        Assert.Equal(TimeSpan.FromSeconds(1), rtt.Rto); // §2.1: before any measurement
        rtt.Sample(Ms(100));                             // §2.2
        Assert.Equal((Ms(100), Ms(50), Ms(300)), (rtt.Srtt, rtt.RttVar, rtt.Rto)); // RTO = SRTT + max(G, 4·RTTVAR)
        rtt.Sample(Ms(200));                             // §2.3: RTTVAR first, with the old SRTT
        Assert.Equal(Ms(62.5), rtt.RttVar);              // 3/4·50 + 1/4·|100 − 200|
        Assert.Equal(Ms(112.5), rtt.Srtt);               // 7/8·100 + 1/8·200
        Assert.Equal(Ms(362.5), rtt.Rto);
    }

    [Fact]
    public void The_timeout_is_clamped_and_backs_off_exponentially()
    {
        var rtt = New();
        rtt.Sample(Ms(1));
        Assert.Equal(Ms(200), rtt.Rto);                  // §2.4: the minimum (Photon's 200 ms, as Linux)
        rtt.Backoff();
        Assert.Equal(Ms(400), rtt.Rto);                  // §5.5
        for (int i = 0; i < 20; i++) rtt.Backoff();
        Assert.Equal(TimeSpan.FromSeconds(60), rtt.Rto); // §2.5: the maximum
        rtt.Sample(Ms(1));
        Assert.Equal(Ms(200), rtt.Rto);                  // a new sample replaces the backed-off value
    }

    [Fact]
    public void A_timed_segment_gives_a_sample_once_acknowledged_unless_it_was_retransmitted()
    {
        var rtt = New();
        var seq = new SeqNumber(1000);
        rtt.StartTiming(seq, Ms(0));
        rtt.OnAck(seq, Ms(50));                          // does not cover the timed byte yet
        Assert.False(rtt.HasSample);
        rtt.OnAck(seq + 1, Ms(80));
        Assert.True(rtt.HasSample);
        Assert.Equal(Ms(80), rtt.Srtt);
        Assert.False(rtt.IsTiming);

        rtt.StartTiming(seq + 100, Ms(100));
        rtt.OnRetransmit(seq + 50, 10);                  // another segment: still timed
        Assert.True(rtt.IsTiming);
        rtt.OnRetransmit(seq + 90, 20);                  // Karn's rule: this one covers the timed byte
        Assert.False(rtt.IsTiming);
        rtt.OnAck(seq + 200, Ms(5000));
        Assert.Equal(Ms(80), rtt.Srtt);                  // no ambiguous sample taken
    }
}
