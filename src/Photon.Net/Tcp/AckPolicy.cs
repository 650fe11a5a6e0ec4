namespace Photon.Net.Tcp;

/// <summary>When an in-order data arrival is acknowledged.</summary>
internal enum AckTiming
{
    /// <summary>At once, inside the burst.</summary>
    Now,
    /// <summary>Once the stack has processed the NIC's receive burst: one ACK for all of it, as Linux does after GRO.</summary>
    BurstEnd,
    /// <summary>On the delayed-ACK timer (the stack's next tick, well under RFC 9293's 500 ms and Linux's 40 ms minimum).</summary>
    Delayed,
}

/// <summary>
/// The receiver's ACK policy for in-order data (RFC 9293 §3.8.6.3, RFC 5681 §4.2, Linux's <c>__tcp_ack_snd_check</c>
/// and quick-ACK mode). A sender in slow start opens its window by what each ACK covers and waits for the ACKs to send
/// more, so the receiver's ACK latency is the sender's round trip: a connection starts in quick-ACK mode (every burst
/// acknowledged at its end, even a single segment) for the first <see cref="QuickAckSegments"/> segments, and re-enters
/// it after a gap was filled or the flow went idle; otherwise a burst with two or more segments is acknowledged at its
/// end and a lone segment on the delayed-ACK timer. A long burst is acknowledged inside the burst every
/// <see cref="StretchSegments"/> full segments (GRO's 64 KiB aggregate), so a big burst does not stall the ACK clock
/// for the time the stack takes to process all of it.
/// </summary>
internal sealed class AckPolicy
{
    /// <summary>Linux's TCP_MAX_QUICKACKS.</summary>
    public const int QuickAckSegments = 16;
    /// <summary>Full segments after which an ACK goes out inside a burst (about 64 KiB at a 1448-byte MSS).</summary>
    public const int StretchSegments = 44;
    private int _quickAcks = QuickAckSegments;

    /// <summary>Data arrived after a gap was filled or after an idle spell: acknowledge promptly again for a while (the
    /// sender is in recovery or restarting slow start).</summary>
    public void EnterQuickAck() => _quickAcks = QuickAckSegments;

    public bool InQuickAck => _quickAcks > 0;

    /// <summary>Decides for an in-order arrival: <paramref name="pendingSegments"/> and <paramref name="pendingBytes"/>
    /// are what is unacknowledged now, this arrival included.</summary>
    public AckTiming OnInOrderData(int pendingSegments, long pendingBytes, int mss)
    {
        if (pendingBytes >= (long)StretchSegments * mss) return AckTiming.Now;
        if (_quickAcks > 0) { _quickAcks--; return AckTiming.BurstEnd; }
        return pendingSegments >= 2 ? AckTiming.BurstEnd : AckTiming.Delayed;
    }
}
