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

    // Sorted by Start, contiguous ranges. Entries below _head are delivered and wait to be dropped in one RemoveRange
    // (amortized), so an ACK costs what it delivers, not a rewrite of the whole flight; a range SACKed above the head is
    // marked Done in place (_done counts them) and skipped from then on.
    private readonly List<Sent> _sent = new();
    private int _head, _done;
    private TimeSpan? _xmitTs;  // RACK.xmit_ts: send time of the most recently sent segment known delivered
    private SeqNumber _xmitEnd; // RACK.end_seq: its end, which orders segments sent at the same instant (one burst)
    private TimeSpan _rtt;      // RACK.rtt: the round trip of that delivery
    private bool _overflow;

    private record struct Sent(SeqNumber Start, SeqNumber End, TimeSpan At, bool Retransmitted, bool Done = false);

    /// <summary>Transmissions tracked and not yet delivered.</summary>
    public int Tracked => _sent.Count - _head - _done;

    /// <summary>RACK.reordering_seen (RFC 8985 §6.2 step 2): a first transmission was delivered after one sent later
    /// was — the path reorders, so losses are judged with a reordering window, not at once.</summary>
    public bool ReorderingSeen { get; private set; }

    /// <summary>Records a transmission of [<paramref name="start"/>, +<paramref name="length"/>) at <paramref name="now"/>.</summary>
    public void OnSent(SeqNumber start, int length, TimeSpan now)
    {
        if (length <= 0 || _overflow) return;
        var end = start + length;
        if (_sent.Count == _head || start >= _sent[^1].End)
        {
            if (Tracked >= MaxTracked) { Overflow(); return; }
            _sent.Add(new Sent(start, end, now, false));
            return;
        }
        // A retransmission (rare): drop what was delivered first, so the list holds exactly the undelivered ranges.
        Compact(all: true);
        // Split the ranges at its edges and restamp what it covers.
        Split(start);
        Split(end);
        bool any = false;
        for (int i = 0; i < _sent.Count; i++)
            if (_sent[i].Start >= start && _sent[i].End <= end) { _sent[i] = _sent[i] with { At = now, Retransmitted = true }; any = true; }
        if (!any && (_sent.Count == 0 || start < _sent[0].Start))
            _sent.Insert(0, new Sent(start, _sent.Count == 0 ? end : SeqNumber.Min(end, _sent[0].Start), now, true));
        if (_sent.Count > MaxTracked) Overflow();
    }

    private void Overflow()
    {
        _overflow = true;
        _sent.Clear();
        _head = _done = 0;
    }

    /// <summary>Drops the delivered entries below the head; with <paramref name="all"/>, the SACKed ones above it too.</summary>
    private void Compact(bool all)
    {
        if (_head > 0) _sent.RemoveRange(0, _head);
        _head = 0;
        if (!all || _done == 0) return;
        _sent.RemoveAll(static s => s.Done);
        _done = 0;
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
        // Cumulatively acknowledged: a prefix of the sorted list, so the head moves over it.
        while (_head < _sent.Count && _sent[_head].End <= sndUna)
        {
            var s = _sent[_head++];
            if (s.Done) _done--;
            else Delivered(s, now);
        }
        // SACKed above the head: in sequence order (as RFC 8985 walks them), up to the highest SACKed byte.
        var ranges = sacked.Ranges;
        if (ranges.Count > 0)
        {
            var highest = ranges[0].Right;
            for (int k = 1; k < ranges.Count; k++) highest = SeqNumber.Max(highest, ranges[k].Right);
            for (int i = _head; i < _sent.Count; i++)
            {
                var s = _sent[i];
                if (s.Start >= highest) break;
                if (s.Done || !IsSacked(sacked, s)) continue;
                Delivered(s, now);
                _sent[i] = s with { Done = true };
                _done++;
            }
            while (_head < _sent.Count && _sent[_head].Done) { _head++; _done--; }
        }
        if (_head == _sent.Count)
        {
            _sent.Clear(); // keeps its array: a request/response connection reuses it every round trip
            _head = _done = 0;
            _overflow = false;
        }
        else if (_head >= 64 && _head * 2 >= _sent.Count) Compact(all: false); // amortized: each entry moved O(1) times
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
        var ranges = sacked.Ranges;
        for (int k = 0; k < ranges.Count; k++)
            if (ranges[k].Left <= s.Start && s.End <= ranges[k].Right) return true;
        return false;
    }

    /// <summary>The lowest-sequence range that RACK deems lost now (sent before the latest delivery, more than RACK.rtt
    /// plus <paramref name="reorderingWindow"/> ago) and not SACKed: its first un-SACKed bytes are the ones to resend.</summary>
    public bool TryFirstLost(TimeSpan now, TimeSpan reorderingWindow, SackScoreboard sacked, out SeqNumber start, out SeqNumber end)
    {
        start = end = default;
        if (_xmitTs is null) return false;
        for (int i = _head; i < _sent.Count; i++)
        {
            var s = _sent[i];
            if (s.Done || SentAfterLatest(s) || now - s.At < _rtt + reorderingWindow || IsSacked(sacked, s)) continue;
            start = s.Start;
            end = s.End;
            // Skip SACKed bytes at its start (a range partly SACKed keeps its un-SACKed part lost).
            var ranges = sacked.Ranges;
            for (int k = 0; k < ranges.Count; k++)
                if (ranges[k].Left <= start && start < ranges[k].Right) start = ranges[k].Right;
            if (start >= end) continue;
            return true;
        }
        return false;
    }

    /// <summary>When the byte at <paramref name="seq"/> was last sent, if it is tracked and not yet delivered.</summary>
    public TimeSpan? LastSentAt(SeqNumber seq)
    {
        for (int i = _head; i < _sent.Count; i++)
            if (!_sent[i].Done && _sent[i].Start <= seq && seq < _sent[i].End) return _sent[i].At;
        return null;
    }

    /// <summary>Whether any segment still tracked (not yet delivered) was sent more than once.</summary>
    public bool AnyRetransmitted()
    {
        for (int i = _head; i < _sent.Count; i++)
            if (!_sent[i].Done && _sent[i].Retransmitted) return true;
        return _overflow;
    }

    /// <summary>Whether the byte at <paramref name="seq"/> was last sent as a retransmission (and is not yet delivered).</summary>
    public bool IsRetransmitted(SeqNumber seq)
    {
        for (int i = _head; i < _sent.Count; i++)
            if (!_sent[i].Done && _sent[i].Start <= seq && seq < _sent[i].End) return _sent[i].Retransmitted;
        return false;
    }

    /// <summary>Un-SACKed bytes RACK deems lost now: they have left the network, so RFC 6675's pipe leaves them out.</summary>
    public long LostBytes(TimeSpan now, TimeSpan reorderingWindow, SackScoreboard sacked)
    {
        if (_xmitTs is null) return 0;
        long n = 0;
        var ranges = sacked.Ranges;
        for (int i = _head; i < _sent.Count; i++)
        {
            var s = _sent[i];
            if (s.Done || SentAfterLatest(s) || now - s.At < _rtt + reorderingWindow) continue;
            long bytes = s.End - s.Start;
            for (int k = 0; k < ranges.Count; k++)
            {
                var (l, r) = ranges[k];
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
        _head = _done = 0;
        _xmitTs = null;
        _overflow = false;
    }
}
