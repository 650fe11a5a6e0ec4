using Photon.Net.Tcp;

namespace Photon.Net.Tests;

/// <summary>
/// RACK's loss marking (RFC 8985 §6) on <see cref="RackTlp"/> alone, with a stepped clock: a segment is lost when it
/// was sent before the most recently sent segment known delivered (RACK_sent_after: later in time, or at the same
/// instant higher in sequence), more than RACK.rtt plus the reordering window ago, and is not SACKed; a retransmission
/// restamps what it covers; a first transmission delivered after a later-sent one is reordering. The tracker keeps a
/// head index over the delivered prefix instead of rewriting its list per ACK (tcp15), so the last test runs long random
/// flights against a plain per-segment model of the same rules.
/// </summary>
public sealed class RackTlpTests
{
    private const int Mss = 1000;
    private static readonly TimeSpan Reo = TimeSpan.FromMilliseconds(5);
    private static readonly SeqNumber Iss = new(4_294_960_000); // wraps within the flight
    private static TimeSpan Ms(double ms) => TimeSpan.FromMilliseconds(ms);
    private static SeqNumber Seg(int i) => Iss + i * Mss;

    private static SackScoreboard Sacked(SeqNumber una, SeqNumber max, params (int From, int To)[] segments)
    {
        var board = new SackScoreboard();
        board.Add(segments.Select(s => (Seg(s.From), Seg(s.To))).ToArray(), una, max);
        return board;
    }

    [Fact]
    public void A_segment_sent_before_a_delivered_one_is_lost_only_after_rtt_plus_the_reordering_window()
    {
        var rack = new RackTlp();
        for (int i = 0; i < 3; i++) rack.OnSent(Seg(i), Mss, Ms(i)); // A at 0, B at 1, C at 2 ms
        var board = Sacked(Seg(0), Seg(3), (2, 3));
        rack.OnAck(Seg(0), board, Ms(10)); // C SACKed at 10 ms: RACK.xmit_ts = 2 ms, RACK.rtt = 8 ms
        Assert.Equal(2, rack.Tracked);
        // A was sent 10 ms ago, less than rtt + reo = 13 ms: not yet.
        Assert.False(rack.TryFirstLost(Ms(10), Reo, board, out _, out _));
        Assert.Equal(0, rack.LostBytes(Ms(10), Reo, board));
        // At 13.5 ms A (13.5 ms ago) is lost, B (12.5 ms ago) not yet; at 14 ms both.
        Assert.True(rack.TryFirstLost(Ms(13.5), Reo, board, out var start, out var end));
        Assert.Equal((Seg(0), Seg(1)), (start, end));
        Assert.Equal(Mss, rack.LostBytes(Ms(13.5), Reo, board));
        Assert.Equal(2 * Mss, rack.LostBytes(Ms(14), Reo, board));
        Assert.False(rack.ReorderingSeen);
    }

    [Fact]
    public void A_segment_sent_after_the_latest_delivered_one_is_never_marked_lost()
    {
        var rack = new RackTlp();
        rack.OnSent(Seg(0), Mss, Ms(0));
        rack.OnSent(Seg(1), Mss, Ms(1));
        rack.OnSent(Seg(2), Mss, Ms(5)); // sent after B
        var board = Sacked(Seg(0), Seg(3), (1, 2));
        rack.OnAck(Seg(0), board, Ms(6)); // B delivered: xmit_ts = 1 ms, rtt = 5 ms
        Assert.True(rack.TryFirstLost(Ms(100), Reo, board, out var start, out _));
        Assert.Equal(Seg(0), start);
        Assert.Equal(Mss, rack.LostBytes(Ms(100), Reo, board)); // A only: C was sent after B
    }

    [Fact]
    public void Segments_sent_at_the_same_instant_are_ordered_by_their_end_sequence()
    {
        // One burst (one timestamp): delivering the higher one makes the lower one lost; delivering the lower one does not
        // make the higher one lost (RFC 8985 RACK_sent_after's tie-break on end_seq).
        var lowLost = new RackTlp();
        lowLost.OnSent(Seg(0), Mss, Ms(0));
        lowLost.OnSent(Seg(1), Mss, Ms(0));
        var board = Sacked(Seg(0), Seg(2), (1, 2));
        lowLost.OnAck(Seg(0), board, Ms(10));
        Assert.True(lowLost.TryFirstLost(Ms(100), Reo, board, out var start, out _));
        Assert.Equal(Seg(0), start);

        var highKept = new RackTlp();
        highKept.OnSent(Seg(0), Mss, Ms(0));
        highKept.OnSent(Seg(1), Mss, Ms(0));
        highKept.OnAck(Seg(1), new SackScoreboard(), Ms(10)); // the lower one cumulatively acknowledged
        Assert.Equal(1, highKept.Tracked);
        Assert.False(highKept.TryFirstLost(Ms(100), Reo, new SackScoreboard(), out _, out _));
    }

    [Fact]
    public void A_retransmission_is_restamped_and_lost_again_only_after_a_later_sent_segment_is_delivered()
    {
        var rack = new RackTlp();
        for (int i = 0; i < 4; i++) rack.OnSent(Seg(i), Mss, Ms(i));
        var board = Sacked(Seg(0), Seg(4), (1, 2));
        rack.OnAck(Seg(0), board, Ms(10));
        Assert.True(rack.TryFirstLost(Ms(20), Reo, board, out var start, out var end));
        Assert.Equal((Seg(0), Seg(1)), (start, end));
        rack.OnSent(start, Mss, Ms(20)); // the retransmission
        Assert.True(rack.IsRetransmitted(Seg(0)));
        Assert.True(rack.AnyRetransmitted());
        Assert.Equal(Ms(20), rack.LastSentAt(Seg(0) + 10));
        // The retransmitted A (20 ms) and C, D (2, 3 ms) were all sent after B (1 ms): nothing is lost now.
        Assert.False(rack.TryFirstLost(Ms(25), Reo, board, out _, out _));
        // D (sent at 3 ms) SACKed at 30 ms: C (2 ms) is lost after rtt 27 + 5 ms; the retransmitted A (20 ms) was
        // sent after D, so it is not.
        board = Sacked(Seg(0), Seg(4), (1, 2), (3, 4));
        rack.OnAck(Seg(0), board, Ms(30));
        Assert.True(rack.TryFirstLost(Ms(40), Reo, board, out start, out _));
        Assert.Equal(Seg(2), start);
        Assert.Equal(Mss, rack.LostBytes(Ms(40), Reo, board));
        // The retransmission delivered (cumulative ACK up to B's end): A's entry goes, C stays.
        rack.OnAck(Seg(2), Sacked(Seg(2), Seg(4), (3, 4)), Ms(41));
        Assert.Equal(1, rack.Tracked);
        Assert.False(rack.IsRetransmitted(Seg(0)));
        Assert.False(rack.AnyRetransmitted());
    }

    [Fact]
    public void A_first_transmission_delivered_after_a_later_sent_one_is_reordering()
    {
        var rack = new RackTlp();
        for (int i = 0; i < 3; i++) rack.OnSent(Seg(i), Mss, Ms(i));
        rack.OnAck(Seg(0), Sacked(Seg(0), Seg(3), (2, 3)), Ms(10));
        Assert.False(rack.ReorderingSeen);
        rack.OnAck(Seg(2), new SackScoreboard(), Ms(11)); // A and B, never retransmitted, arrive late
        Assert.True(rack.ReorderingSeen);
        Assert.Equal(0, rack.Tracked);
    }

    [Fact]
    public void Ranges_only_partly_sacked_keep_their_unsacked_bytes_lost()
    {
        var rack = new RackTlp();
        rack.OnSent(Seg(0), 2 * Mss, Ms(0)); // one 2-segment range
        rack.OnSent(Seg(2), Mss, Ms(1));
        var board = Sacked(Seg(0), Seg(3), (2, 3));
        rack.OnAck(Seg(0), board, Ms(5));
        board.Add([(Seg(0), Seg(1))], Seg(0), Seg(3)); // the range's first half SACKed
        Assert.True(rack.TryFirstLost(Ms(20), Reo, board, out var start, out var end));
        Assert.Equal((Seg(1), Seg(2)), (start, end));
        Assert.Equal(Mss, rack.LostBytes(Ms(20), Reo, board));
    }

    [Fact]
    public void A_long_flight_acknowledged_piecemeal_forgets_delivered_ranges_and_keeps_marking_the_right_ones()
    {
        var rack = new RackTlp();
        const int n = 3000;
        for (int i = 0; i < n; i++) rack.OnSent(Seg(i), Mss, Ms(i * 0.01));
        var board = new SackScoreboard();
        for (int acked = 2; acked <= n - 100; acked += 2)
        {
            board.Prune(Seg(acked));
            rack.OnAck(Seg(acked), board, Ms(50 + acked * 0.01));
            Assert.Equal(n - acked, rack.Tracked);
        }
        // A hole at n-100, everything above SACKed: the hole alone is lost, and only once its time has come.
        board.Add([(Seg(n - 99), Seg(n))], Seg(n - 100), Seg(n));
        rack.OnAck(Seg(n - 100), board, Ms(100));
        Assert.Equal(1, rack.Tracked);
        Assert.True(rack.TryFirstLost(Ms(200), Reo, board, out var start, out var end));
        Assert.Equal((Seg(n - 100), Seg(n - 99)), (start, end));
        Assert.Equal(Mss, rack.LostBytes(Ms(200), Reo, board));
        rack.OnAck(Seg(n), new SackScoreboard(), Ms(201));
        Assert.Equal(0, rack.Tracked);
    }

    /// <summary>Random flights (new data, cumulative ACKs, SACKs of whole segments, retransmissions of what RACK marks
    /// lost) against a per-segment model of RFC 8985 §6.2's rules: after every step the first lost segment, the lost
    /// bytes, the tracked count and the reordering flag agree.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Random_flights_mark_the_same_segments_lost_as_the_rfc_rules(int seed)
    {
        var random = new Random(seed);
        var rack = new RackTlp();
        var model = new List<ModelSegment>(); // undelivered segments, in sequence order
        TimeSpan? xmitTs = null;
        int xmitEnd = -1;
        TimeSpan rtt = default;
        bool reordering = false;
        var board = new SackScoreboard();
        int una = 0, next = 0;
        double clock = 0;
        for (int step = 0; step < 4000; step++)
        {
            clock += random.Next(1, 4) * 0.25; // every event at its own instant
            var now = Ms(clock);
            int what = random.Next(10);
            if (what < 4 && next - una < 400)
            {
                int count = random.Next(1, 5);
                for (int k = 0; k < count; k++, next++)
                {
                    rack.OnSent(Seg(next), Mss, now);
                    model.Add(new ModelSegment(next, now, false));
                }
            }
            else if (what < 6 && next > una)
            {
                una = Math.Min(next, una + random.Next(1, 6));
                board.Prune(Seg(una));
                Deliver(s => s.Index < una);
                rack.OnAck(Seg(una), board, now);
            }
            else if (what < 8 && next - una > 2)
            {
                int from = random.Next(una + 1, next), to = Math.Min(next, from + random.Next(1, 4));
                board.Add([(Seg(from), Seg(to))], Seg(una), Seg(next));
                Deliver(s => IsSacked(s.Index));
                rack.OnAck(Seg(una), board, now);
            }
            else if (rack.TryFirstLost(now, Reo, board, out var lostStart, out var lostEnd))
            {
                int index = (int)(lostStart - Iss) / Mss;
                Assert.Equal(Mss, lostEnd - lostStart);
                rack.OnSent(lostStart, Mss, now);
                int at = model.FindIndex(s => s.Index == index);
                model[at] = model[at] with { At = now, Retransmitted = true };
            }
            var expectedLost = model.Where(s => IsLost(s, now)).ToList();
            bool found = rack.TryFirstLost(now, Reo, board, out var first, out _);
            Assert.Equal(expectedLost.Count > 0, found);
            if (found) Assert.Equal(Seg(expectedLost[0].Index), first);
            Assert.Equal((long)expectedLost.Count * Mss, rack.LostBytes(now, Reo, board));
            Assert.Equal(model.Count, rack.Tracked);
            Assert.Equal(reordering, rack.ReorderingSeen);
            Assert.Equal(model.Any(s => s.Retransmitted), rack.AnyRetransmitted());
        }

        bool IsSacked(int index)
        {
            foreach (var (l, r) in board.Ranges)
                if (l <= Seg(index) && Seg(index + 1) <= r) return true;
            return false;
        }
        bool SentAfterLatest(ModelSegment s) => xmitTs is not { } latest || s.At > latest || (s.At == latest && s.Index + 1 > xmitEnd);
        bool IsLost(ModelSegment s, TimeSpan now) =>
            !SentAfterLatest(s) && now - s.At >= rtt + Reo && !IsSacked(s.Index);
        void Deliver(Func<ModelSegment, bool> delivered)
        {
            var now = Ms(clock);
            foreach (var s in model.Where(delivered).ToList()) // in sequence order
            {
                model.Remove(s);
                if (!SentAfterLatest(s)) { if (!s.Retransmitted) reordering = true; continue; }
                xmitTs = s.At;
                xmitEnd = s.Index + 1;
                rtt = now - s.At;
            }
        }
    }

    private sealed record ModelSegment(int Index, TimeSpan At, bool Retransmitted);
}
