namespace Photon.Net.Tcp;

/// <summary>
/// NewReno (RFC 5681, RFC 6582): slow start below the threshold (the bytes each ACK covers), congestion avoidance above
/// it (one MSS per window's worth of bytes acknowledged), and on loss a threshold of half the flight. Without SACK, fast recovery inflates the window
/// by three segments and one per further duplicate ACK and deflates on partial ACKs; with SACK the window is the
/// threshold and RFC 6675's pipe paces recovery instead.
/// </summary>
public sealed class NewReno : ICongestionController
{
    /// <summary>Initial window in segments (RFC 6928).</summary>
    public const int InitialSegments = 10;
    private const long MaxWindow = 64L << 20;
    private long _cwnd, _ssthresh = long.MaxValue / 4;
    private int _mss = 536;
    private bool _sack;
    private long _priorCwnd, _priorSsthresh; // before the last fast-recovery reduction, for UndoReduction

    public long Window => _cwnd;
    public long SlowStartThreshold => _ssthresh;
    public bool InRecovery { get; private set; }

    public void Start(int mss, bool sack)
    {
        _mss = mss;
        _sack = sack;
        _cwnd = InitialSegments * (long)mss;
    }

    public void OnAck(long ackedBytes, TimeSpan now, TimeSpan srtt)
    {
        // Both phases count the bytes an ACK covers, not ACKs (RFC 3465, as Linux does): a receiver that acknowledges a
        // 64 KiB TSO burst with one stretch ACK (Linux with GRO does) would otherwise stall the window's growth.
        if (_cwnd < _ssthresh)
        {
            long grow = Math.Min(ackedBytes, _ssthresh - _cwnd);          // slow start up to the threshold …
            _cwnd += grow;
            ackedBytes -= grow;                                            // … the rest counts as congestion avoidance
        }
        if (ackedBytes > 0 && _cwnd >= _ssthresh) _cwnd += Math.Max(1, (long)_mss * ackedBytes / _cwnd);
        _cwnd = Math.Min(_cwnd, MaxWindow);
    }

    public void OnFastRetransmit(long flight)
    {
        _priorCwnd = _cwnd;
        _priorSsthresh = _ssthresh;
        _ssthresh = Math.Max(flight / 2, 2L * _mss);
        InRecovery = true;
        _cwnd = _sack ? _ssthresh : _ssthresh + 3L * _mss; // the three duplicate ACKs are three segments gone
    }

    public void OnDuplicateAckInRecovery()
    {
        if (!_sack) _cwnd += _mss;
    }

    public void OnPartialAck(long ackedBytes)
    {
        if (!_sack) _cwnd = Math.Min(Math.Max(_cwnd - ackedBytes + _mss, _mss), MaxWindow);
    }

    public void OnRecoveryEnd()
    {
        InRecovery = false;
        _cwnd = Math.Min(Math.Max(_ssthresh, _mss), MaxWindow);
    }

    public void UndoReduction()
    {
        if (_priorCwnd == 0) return;
        InRecovery = false;
        _cwnd = Math.Min(Math.Max(_cwnd, _priorCwnd), MaxWindow);
        _ssthresh = Math.Max(_ssthresh, _priorSsthresh);
        _priorCwnd = 0;
    }

    public void OnTimeout(long flight)
    {
        _priorCwnd = 0;
        _ssthresh = Math.Max(flight / 2, 2L * _mss);
        _cwnd = _mss;
        InRecovery = false;
    }
}
