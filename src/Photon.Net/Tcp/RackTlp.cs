namespace Photon.Net.Tcp;

/// <summary>
/// RACK loss detection (RFC 8985 §6): time-based instead of counting duplicate ACKs. Every transmission's sequence
/// range and send time is kept in sequence order (a retransmission restamps the bytes it covers); when the peer
/// acknowledges or SACKs bytes, RACK remembers the latest send time among them. Anything still unacknowledged that was
/// sent before that, longer ago than the round trip plus a reordering window, is lost — including a retransmission
/// that was itself lost, which duplicate-ACK counting never notices (it used to wait for the retransmission timer).
/// The tail loss probe (§7) lives in <see cref="TcpConnection"/>. Runs under the stack lock.
/// </summary>
internal sealed class RackTlp
{
    /// <summary>Transmissions tracked at most; past it tracking stops until the flight is acknowledged (then RACK
    /// simply finds nothing, and duplicate ACKs and the timer remain).</summary>
    public const int MaxTracked = 4096;

    private readonly List<Sent> _sent = new(); // sorted by Start, contiguous ranges
    private TimeSpan? _xmitTs;  // RACK.xmit_ts: send time of the most recently sent segment known delivered
    private SeqNumber _xmitEnd; // RACK.end_seq: its end, which orders segments sent at the same instant (one burst)
    private TimeSpan _rtt;      // RACK.rtt: the round trip of that delivery
    private bool _overflow;

    private record struct Sent(SeqNumber Start, SeqNumber End, TimeSpan At, bool Retransmitted);

    public int Tracked => _sent.Count;

    /// <summary>RACK.reordering_seen (RFC 8985 §6.2 step 2): a first transmission was delivered after one sent later
    /// was — the path reorders, so losses are judged with a reordering window, not at once.</summary>
    public bool ReorderingSeen { get; private set; }

    /// <summary>Records a transmission of [<paramref name="start"/>, +<paramref name="length"/>) at <paramref name="now"/>.</summary>
    public void OnSent(SeqNumber start, int length, TimeSpan now)
    {
        if (length <= 0 || _overflow) return;
        var end = start + length;
        if (_sent.Count == 0 || start >= _sent[^1].End)
        {
            if (_sent.Count >= MaxTracked) { _overflow = true; _sent.Clear(); return; }
            _sent.Add(new Sent(start, end, now, false));
            return;
        }
        // A retransmission: split the ranges at its edges and restamp what it covers.
        Split(start);
        Split(end);
        bool any = false;
        for (int i = 0; i < _sent.Count; i++)
            if (_sent[i].Start >= start && _sent[i].End <= end) { _sent[i] = _sent[i] with { At = now, Retransmitted = true }; any = true; }
        if (!any && start < _sent[0].Start) _sent.Insert(0, new Sent(start, SeqNumber.Min(end, _sent[0].Start), now, true));
        if (_sent.Count > MaxTracked) { _overflow = true; _sent.Clear(); }
    }

    private void Split(SeqNumber at)
    {
        for (int i = 0; i < _sent.Count; i++)
        {
            var s = _sent[i];
            if (s.Start < at && at < s.End)
            {
                _sent[i] = s with { End = at };
                _sent.Insert(i + 1, s with { Start = at });
                return;
            }
        }
    }

    /// <summary>An ACK arrived: ranges below <paramref name="sndUna"/> or wholly SACKed are delivered (RACK.xmit_ts
    /// moves to the latest of their send times) and forgotten.</summary>
    public void OnAck(SeqNumber sndUna, SackScoreboard sacked, TimeSpan now)
    {
        int kept = 0;
        for (int i = 0; i < _sent.Count; i++)
        {
            var s = _sent[i];
            if (s.End <= sndUna || IsSacked(sacked, s)) { Delivered(s, now); continue; }
            _sent[kept++] = s;
        }
        _sent.RemoveRange(kept, _sent.Count - kept);
        if (_sent.Count == 0) _overflow = false;
    }

    private void Delivered(Sent s, TimeSpan now)
    {
        if (!SentAfterLatest(s))
        {
            if (!s.Retransmitted) ReorderingSeen = true;
            return;
        }
        _xmitTs = s.At;
        _xmitEnd = s.End;
        _rtt = now - s.At; // with a retransmission this may be short (an ACK for the original): RACK then only errs early
    }

    /// <summary>RFC 8985 RACK_sent_after: later in time, or at the same instant (one burst) higher in sequence.</summary>
    private bool SentAfterLatest(Sent s) => _xmitTs is not { } latest || s.At > latest || (s.At == latest && s.End > _xmitEnd);

    private static bool IsSacked(SackScoreboard sacked, Sent s)
    {
        foreach (var (l, r) in sacked.Ranges)
            if (l <= s.Start && s.End <= r) return true;
        return false;
    }

    /// <summary>The lowest-sequence range that RACK deems lost now (sent before the latest delivery, more than RACK.rtt
    /// plus <paramref name="reorderingWindow"/> ago) and not SACKed: its first un-SACKed bytes are the ones to resend.</summary>
    public bool TryFirstLost(TimeSpan now, TimeSpan reorderingWindow, SackScoreboard sacked, out SeqNumber start, out SeqNumber end)
    {
        start = end = default;
        if (_xmitTs is null) return false;
        foreach (var s in _sent)
        {
            if (SentAfterLatest(s) || now - s.At < _rtt + reorderingWindow || IsSacked(sacked, s)) continue;
            start = s.Start;
            end = s.End;
            // Skip SACKed bytes at its start (a range partly SACKed keeps its un-SACKed part lost).
            foreach (var (l, r) in sacked.Ranges)
                if (l <= start && start < r) start = r;
            if (start >= end) continue;
            return true;
        }
        return false;
    }

    /// <summary>When the byte at <paramref name="seq"/> was last sent, if it is tracked and not yet delivered.</summary>
    public TimeSpan? LastSentAt(SeqNumber seq)
    {
        foreach (var s in _sent)
            if (s.Start <= seq && seq < s.End) return s.At;
        return null;
    }

    /// <summary>Whether the byte at <paramref name="seq"/> was last sent as a retransmission (and is not yet delivered).</summary>
    /// <summary>Whether any segment still tracked (not cumulatively acknowledged) was sent more than once.</summary>
    public bool AnyRetransmitted()
    {
        foreach (var s in _sent)
            if (s.Retransmitted) return true;
        return _overflow;
    }

    public bool IsRetransmitted(SeqNumber seq)
    {
        foreach (var s in _sent)
            if (s.Start <= seq && seq < s.End) return s.Retransmitted;
        return false;
    }

    /// <summary>Un-SACKed bytes RACK deems lost now: they have left the network, so RFC 6675's pipe leaves them out.</summary>
    public long LostBytes(TimeSpan now, TimeSpan reorderingWindow, SackScoreboard sacked)
    {
        if (_xmitTs is null) return 0;
        long n = 0;
        foreach (var s in _sent)
        {
            if (SentAfterLatest(s) || now - s.At < _rtt + reorderingWindow) continue;
            long bytes = s.End - s.Start;
            foreach (var (l, r) in sacked.Ranges)
            {
                var from = SeqNumber.Max(l, s.Start);
                var to = SeqNumber.Min(r, s.End);
                if (from < to) bytes -= to - from;
            }
            n += Math.Max(0, bytes);
        }
        return n;
    }

    public void Clear()
    {
        _sent.Clear();
        _xmitTs = null;
        _overflow = false;
    }
}
