namespace Photon.Net.Tcp;

/// <summary>
/// A congestion-control policy (smoltcp's <c>congestion</c> module): it owns the congestion window and slow-start
/// threshold and is told about the events loss detection sees; the connection decides what to retransmit.
/// <see cref="Cubic"/> (RFC 9438) is the default, <see cref="NewReno"/> the alternative
/// (<see cref="NetworkStackOptions.TcpCongestionControl"/>).
/// </summary>
public interface ICongestionController
{
    /// <summary>The congestion window, in bytes.</summary>
    long Window { get; }
    long SlowStartThreshold { get; }
    /// <summary>Between a loss detected by duplicate ACKs and the ACK of everything outstanding then.</summary>
    bool InRecovery { get; }

    /// <summary>The handshake is done: the initial window for <paramref name="mss"/> (RFC 6928); <paramref name="sack"/>
    /// says whether recovery is paced by SACK's pipe rather than by window inflation.</summary>
    void Start(int mss, bool sack);

    /// <summary>New data acknowledged outside recovery, at <paramref name="now"/> with the smoothed RTT <paramref name="srtt"/>.</summary>
    void OnAck(long ackedBytes, TimeSpan now, TimeSpan srtt);

    /// <summary>The third duplicate ACK: loss, enter fast recovery. <paramref name="flight"/> is SND.MAX − SND.UNA.</summary>
    void OnFastRetransmit(long flight);

    /// <summary>Another duplicate ACK during recovery (a segment left the network).</summary>
    void OnDuplicateAckInRecovery();

    /// <summary>An ACK during recovery that does not cover the recovery point (RFC 6582's partial ACK).</summary>
    void OnPartialAck(long ackedBytes);

    /// <summary>The recovery point was acknowledged.</summary>
    void OnRecoveryEnd();

    /// <summary>The retransmission timer fired.</summary>
    void OnTimeout(long flight);

    /// <summary>The last fast-recovery reduction was spurious (every retransmission of it D-SACKed, RFC 2883 §5):
    /// restore the window and threshold from before it (Linux's tcp_undo_cwnd_reduction: the larger of now and then).</summary>
    void UndoReduction();
}
