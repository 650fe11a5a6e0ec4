namespace Photon.Net.Tcp;

/// <summary>
/// The receiving end's own round-trip estimate, after Linux's <c>tcp_rcv_rtt_measure</c> / <c>tcp_rcv_rtt_measure_ts</c>:
/// what receive-buffer autotuning (<see cref="BufferAutotune.OnRead"/>) times its epochs by. A connection that only
/// receives sends no data, so its sender's <see cref="RttEstimator"/> keeps the one handshake sample for the whole
/// transfer — 0 or 15 ms depending on how the SYN-ACK's ACK was delayed, which decided whether the buffer stayed small
/// or grew to the maximum (net12's bimodal one-connection <c>scaletcp</c> point). Two kinds of sample, kept up to date as
/// data arrives:
/// <list type="bullet">
/// <item>per window (always): the time from advertising a right edge to data reaching it is at least one round trip (the
/// sender had to see that window first); the estimate keeps the smallest such sample, since a sender that was not
/// window-limited only makes a sample longer (Linux's <c>win_dep</c> update);</item>
/// <item>timestamps (when negotiated): a full-sized segment echoing a timestamp not echoed before gives the time since we
/// sent it. A sample below the estimate is taken at once, a larger one smoothed in by 1/8 — and skipped while data waits
/// in the receive buffer, since then it measures our own queue, not the path (Linux 6.16's "always seek for minimal
/// rtt" and "skip big rtt sample if receive queue is not empty": without them the estimate follows the queueing the
/// growing buffer itself allows, and the buffer grows to the maximum — tcp13 saw exactly that on the in-memory wire,
/// 20–135 ms estimates and 4 MiB buffers in every run). The timestamp clock ticks in milliseconds; an echo 0 ms old says
/// only "under a millisecond", which the per-window sample measures better, so it is not taken (Linux rounds it up to
/// 1 ms).</item>
/// </list>
/// Guarded by the stack's lock, like the connection.
/// </summary>
internal sealed class ReceiveRttEstimator
{
    private bool _measuring;
    private SeqNumber _windowEdge;
    private TimeSpan _windowStart;
    private uint _lastTsEcr;

    /// <summary>The estimate; meaningful once <see cref="HasSample"/>.</summary>
    public TimeSpan Rtt { get; private set; }

    public bool HasSample { get; private set; }

    /// <summary>Samples taken so far (per window and by timestamp), for tests and the bench.</summary>
    public long Samples { get; private set; }

    /// <summary>In-order data advanced RCV.NXT to <paramref name="rcvNxt"/> at <paramref name="now"/>, with our advertised
    /// right edge at <paramref name="advertisedEdge"/>: completes the window being timed once data reached its edge, and
    /// starts timing the next (the edge we advertise now).</summary>
    public void OnInOrderData(SeqNumber rcvNxt, SeqNumber advertisedEdge, TimeSpan now)
    {
        if (_measuring)
        {
            if (rcvNxt < _windowEdge) return;
            var sample = now - _windowStart;
            if (sample <= TimeSpan.Zero) sample = TimeSpan.FromTicks(1);
            if (!HasSample || sample < Rtt) Set(sample);
            else Samples++;
        }
        // A closed window (edge at or behind RCV.NXT) would time the gap between two segments, not a round trip.
        _measuring = advertisedEdge > rcvNxt;
        _windowEdge = advertisedEdge;
        _windowStart = now;
    }

    /// <summary>A data segment of <paramref name="length"/> bytes echoed our timestamp <paramref name="tsEcr"/>; our clock
    /// reads <paramref name="tsNow"/> (milliseconds, RFC 7323). Segments shorter than <paramref name="mss"/> are skipped
    /// (a sender that is application-limited echoes old values late); with <paramref name="dataQueued"/> (bytes wait in
    /// the receive buffer) only a sample that lowers the estimate is taken.</summary>
    public void OnTimestampEcho(uint tsEcr, uint tsNow, int length, int mss, TimeSpan maxRtt, bool dataQueued = false)
    {
        if (tsEcr == 0 || tsEcr == _lastTsEcr) return;
        _lastTsEcr = tsEcr;
        if (length < mss || new SeqNumber(tsEcr) > new SeqNumber(tsNow)) return;
        uint ms = tsNow - tsEcr;
        if (ms == 0 || ms > maxRtt.TotalMilliseconds) return;
        var sample = TimeSpan.FromMilliseconds(ms);
        if (!HasSample || sample < Rtt) Set(sample);
        else if (!dataQueued) Set(Rtt + (sample - Rtt) / 8);
    }

    private void Set(TimeSpan rtt)
    {
        Rtt = rtt;
        HasSample = true;
        Samples++;
    }
}
