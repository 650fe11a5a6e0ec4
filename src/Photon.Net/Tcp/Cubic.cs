namespace Photon.Net.Tcp;

/// <summary>
/// CUBIC (RFC 9438), the default congestion controller (as on Linux). After a loss the window drops to β = 0.7 of its
/// size and then follows W(t) = C·(t − K)³ + W_max (C = 0.4, t in seconds since the window began to grow again, K the
/// time to climb back to W_max): fast while far below the old maximum, flat around it, then probing beyond — so one
/// loss on a long fat path costs far less than NewReno's halving and one-segment-per-RTT climb. Where Reno would grow
/// faster (short RTTs, small windows) the Reno-friendly estimate W_est is used instead (§4.3). Fast convergence (§4.7)
/// releases bandwidth to newer flows. Slow start, and recovery pacing by SACK's pipe, are as in <see cref="NewReno"/>.
/// </summary>
public sealed class Cubic : ICongestionController
{
    private const double C = 0.4;
    private const double Beta = 0.7;
    private static readonly double AlphaReno = 3 * (1 - Beta) / (1 + Beta); // §4.3
    private const long MaxWindow = 64L << 20;

    private long _cwnd, _ssthresh = long.MaxValue / 4;
    private int _mss = 536;
    private bool _sack;
    private double _wMax;          // segments, the window before the last reduction
    private double _k;             // seconds
    private double _wEst;          // segments, the Reno-friendly estimate
    private double _cwndPrior;     // segments, the window when the last reduction began (§4.3's cwnd_prior)
    private TimeSpan? _epochStart; // when congestion avoidance began after the last reduction
    private double _cwndSegmentsCarry;
    // Before the last fast-recovery reduction, for UndoReduction (Linux's prior_cwnd/prior_ssthresh and CUBIC's state).
    private (long Cwnd, long Ssthresh, double WMax, double CwndPrior, double WEst, double K)? _prior;

    public long Window => _cwnd;
    public long SlowStartThreshold => _ssthresh;
    public bool InRecovery { get; private set; }

    /// <summary>W_max in bytes (for tests and statistics).</summary>
    public long LastMaximum => (long)(_wMax * _mss);

    public void Start(int mss, bool sack)
    {
        _mss = mss;
        _sack = sack;
        _cwnd = NewReno.InitialSegments * (long)mss;
    }

    public void OnAck(long ackedBytes, TimeSpan now, TimeSpan srtt)
    {
        if (_cwnd < _ssthresh)
        {
            // Slow start grows by the bytes the ACK covers (RFC 3465, as Linux does), not one MSS per ACK: the host's
            // stack acknowledges a 64 KiB TSO burst with one stretch ACK, and one MSS per ACK kept Photon's window near
            // 115 KB for a whole 8 MiB transfer (issue #17, measured with tcpdump on the VM's TAP).
            long grow = Math.Min(ackedBytes, _ssthresh - _cwnd);
            _cwnd = Math.Min(_cwnd + grow, MaxWindow);
            ackedBytes -= grow;
            if (ackedBytes <= 0 || _cwnd < _ssthresh) return;
        }
        double cwnd = (double)_cwnd / _mss;
        if (_epochStart is null)
        {
            _epochStart = now;
            if (cwnd < _wMax) _k = Math.Cbrt((_wMax - cwnd) / C);
            else { _k = 0; _wMax = cwnd; }
            _wEst = cwnd;
        }
        double t = (now - _epochStart.Value + srtt).TotalSeconds; // the window an RTT from now (§4.2)
        double target = C * Math.Pow(t - _k, 3) + _wMax;
        double segmentsAcked = (double)ackedBytes / _mss;
        // §4.3: W_est grows as Reno with α = 3(1−β)/(1+β) — the same average rate as Reno's β = 0.5, α = 1 — until it
        // reaches the window of the last loss, then as Reno itself.
        _wEst += (_wEst >= _cwndPrior ? 1.0 : AlphaReno) * segmentsAcked / cwnd;
        double increment;
        // Reno-friendly region: cwnd is W_est at every ACK (§4.3 "SHOULD be set to W_est"). Stepping towards it by
        // (W_est − cwnd)/cwnd per segment lagged it: on a sub-millisecond path, where CUBIC's curve is flat and this
        // region is all there is, every 20th segment lost held the window at 3–4 segments where Reno's own would average
        // ~5 (CongestionUnderLossTests).
        if (_wEst > target) increment = _wEst - cwnd;
        else if (target > cwnd) increment = Math.Min(target - cwnd, cwnd / 2) * segmentsAcked / cwnd; // concave/convex, at most 1.5x per RTT
        else increment = 0;
        _cwndSegmentsCarry += Math.Max(0, increment) * _mss;
        long whole = (long)_cwndSegmentsCarry;
        _cwndSegmentsCarry -= whole;
        _cwnd = Math.Min(_cwnd + whole, MaxWindow);
    }

    private void Reduce(long flight)
    {
        double cwnd = (double)Math.Max(_cwnd, flight) / _mss;
        _cwndPrior = (double)_cwnd / _mss;
        // Fast convergence: a flow that lost below its previous maximum gives some of it up.
        _wMax = cwnd < _wMax ? cwnd * (1 + Beta) / 2 : cwnd;
        _ssthresh = Math.Max((long)(Math.Min(_cwnd, flight) * Beta), 2L * _mss);
        _epochStart = null;
        _cwndSegmentsCarry = 0;
    }

    public void OnFastRetransmit(long flight)
    {
        _prior = (_cwnd, _ssthresh, _wMax, _cwndPrior, _wEst, _k);
        Reduce(flight);
        InRecovery = true;
        _cwnd = _sack ? _ssthresh : _ssthresh + 3L * _mss;
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
        if (_prior is not { } p) return;
        _prior = null;
        InRecovery = false;
        _cwnd = Math.Min(Math.Max(_cwnd, p.Cwnd), MaxWindow);
        _ssthresh = Math.Max(_ssthresh, p.Ssthresh);
        (_wMax, _cwndPrior, _wEst, _k) = (p.WMax, p.CwndPrior, p.WEst, p.K);
        _epochStart = null; // a new epoch from the restored window
        _cwndSegmentsCarry = 0;
    }

    public void OnTimeout(long flight)
    {
        _prior = null;
        Reduce(flight);
        _cwnd = _mss;
        InRecovery = false;
    }
}
