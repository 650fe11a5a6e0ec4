namespace Photon.Net.Tcp;

/// <summary>
/// Socket buffer autotuning for one connection, after Linux's. The send buffer grows with the congestion window
/// (<c>tcp_sndbuf_expand</c>: room for two windows — one in flight, one queued for the next round trip — so the writer
/// is never what holds back a sender the network would take more from); the receive buffer grows with what the
/// application reads per round trip (<c>tcp_rcv_space_adjust</c>, "dynamic right-sizing": twice one RTT's reads plus
/// sixteen segments, so the advertised window never limits a reader that keeps up). Both only grow, and never past the
/// stack's <see cref="NetworkStackOptions.TcpSendBufferMax"/> / <see cref="NetworkStackOptions.TcpReceiveBufferMax"/>. A bigger
/// capacity allocates nothing by itself: <see cref="ByteRing"/> storage still grows as data arrives, so a connection
/// that never fills its buffer costs what it did before.
/// </summary>
internal sealed class BufferAutotune(int sendMax, int receiveMax)
{
    /// <summary>Linux's receive-side slack (<c>tcp_rcv_space_adjust</c>: 16 segments on top of twice one RTT's reads).</summary>
    private const int ReceiveSlackSegments = 16;
    private TimeSpan _epochStart;
    private long _readInEpoch;

    /// <summary>Grows <paramref name="send"/> towards two congestion windows (no more than the peer ever let us have in
    /// flight, <paramref name="peerWindow"/>), rounded up to a power of two and bounded by the stack's maximum. The
    /// rounding makes the buffer's storage grow by doubling: the window rises a few KiB per ACK, and a capacity that
    /// followed it exactly made every rise a new array, copied whole (37–43 per netbench run, vm16).</summary>
    public void OnAck(ByteRing send, long cwnd, long peerWindow)
    {
        long want = 2 * Math.Min(cwnd, Math.Max(peerWindow, 1));
        if (want <= send.Capacity) return;
        want = Math.Min(want, sendMax);
        send.GrowCapacity((int)Math.Min((long)System.Numerics.BitOperations.RoundUpToPowerOf2((ulong)want), sendMax));
    }

    /// <summary>The application read <paramref name="n"/> bytes: once per round trip, grows <paramref name="receive"/>
    /// to twice that round trip's reads plus slack, bounded by the stack's maximum.</summary>
    public void OnRead(ByteRing receive, int n, TimeSpan now, TimeSpan rtt, int mss)
    {
        _readInEpoch += n;
        if (now - _epochStart < rtt) return;
        long want = 2 * _readInEpoch + (long)ReceiveSlackSegments * mss;
        if (want > receive.Capacity) receive.GrowCapacity((int)Math.Min(want, receiveMax));
        _epochStart = now;
        _readInEpoch = 0;
    }
}
