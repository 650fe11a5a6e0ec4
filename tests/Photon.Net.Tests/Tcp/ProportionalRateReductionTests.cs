using Photon.Net.Tcp;

namespace Photon.Net.Tests;

/// <summary>RFC 6937's arithmetic: one segment sent per two delivered when ssthresh is half the window (its §6 example,
/// which RFC 6675 alone would answer with silence for the first half of the ACKs), the slow-start reduction bound
/// when losses took the pipe below ssthresh, and never more than ssthresh − pipe.</summary>
public sealed class ProportionalRateReductionTests
{
    private const int Mss = 1000;

    [Fact]
    public void Above_ssthresh_sends_follow_deliveries_in_the_ratio_ssthresh_to_recover_fs()
    {
        var prr = new ProportionalRateReduction();
        prr.Start(recoverFs: 20 * Mss, Mss);
        long pipe = 19 * Mss; // one of 20 lost: the fast retransmit goes on the first ACK
        int sent = 0;
        var pattern = new List<int>();
        for (int ack = 0; ack < 19; ack++)
        {
            pipe -= Mss;                                    // each duplicate ACK delivers one segment
            prr.OnAck(Mss, pipe, ssthresh: 10 * Mss);
            int now = 0;
            while (prr.Budget >= Mss) { prr.OnSent(Mss); pipe += Mss; now++; }
            pattern.Add(now);
            sent += now;
        }
        // One send per two deliveries from the first ACK on (the first is the fast retransmit) — RFC 6675 alone, with
        // cwnd cut to 10 at once against a pipe of 18, would send nothing for the first eight ACKs — until the pipe
        // reaches ssthresh; then one per delivery holds it there.
        Assert.Equal([1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 1], pattern);
        Assert.Equal(10, sent);
        Assert.Equal(10 * Mss, pipe); // the flight ends at ssthresh
    }

    [Fact]
    public void Below_ssthresh_the_pipe_grows_back_by_at_most_one_segment_more_than_delivered()
    {
        var prr = new ProportionalRateReduction();
        prr.Start(recoverFs: 20 * Mss, Mss);
        prr.OnSent(Mss); // the fast retransmit
        // Many losses: the pipe is 4 segments against an ssthresh of 10; an ACK delivering one may send two.
        prr.OnAck(Mss, pipe: 4 * Mss, ssthresh: 10 * Mss);
        Assert.Equal(2 * Mss, prr.Budget);
        // Never beyond ssthresh: a pipe of 9 leaves room for one.
        prr.OnSent(2 * Mss);
        prr.OnAck(3 * Mss, pipe: 9 * Mss, ssthresh: 10 * Mss);
        Assert.Equal(Mss, prr.Budget);
    }

    [Fact]
    public void An_ack_that_delivers_nothing_changes_nothing_and_the_budget_is_never_negative_after_an_ack()
    {
        var prr = new ProportionalRateReduction();
        prr.Start(recoverFs: 10 * Mss, Mss);
        prr.OnAck(0, pipe: 9 * Mss, ssthresh: 7 * Mss);
        Assert.Equal(0, prr.Budget);
        prr.OnAck(-5 * Mss, pipe: 9 * Mss, ssthresh: 7 * Mss); // a reneging peer: less SACKed than before
        Assert.Equal(0, prr.Budget);
        prr.OnSent(3 * Mss); // RACK's one-per-event repairs may overdraw it
        prr.OnAck(Mss, pipe: 9 * Mss, ssthresh: 7 * Mss);
        Assert.True(prr.Budget >= 0);
    }
}
