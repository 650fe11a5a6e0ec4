namespace Photon.Net.Tcp;

/// <summary>
/// Proportional Rate Reduction (RFC 6937, PRR-SSRB as Linux's tcp_cwnd_reduction) for SACK recovery: how much may be
/// sent on each ACK while the window comes down to ssthresh. While the pipe is above ssthresh, sends follow deliveries
/// in the ratio ssthresh / RecoverFS (Linux's prior_cwnd), so the flight shrinks smoothly to ssthresh over one round
/// trip instead of stopping until 30% of it has drained and then bursting; once the pipe is at or below ssthresh (more
/// lost than the reduction asked for), slow start brings it back up — at most one segment more than was delivered per
/// ACK — so a recovery does not end with a flight far below ssthresh. Runs under the stack lock.
/// </summary>
public sealed partial class TcpConnection
{
    private bool _prrActive;
    private long _prrDelivered, _prrOut, _prrRecoverFs, _prrBudget;

    /// <summary>Bytes outstanding that the peer has not shown it holds: their decrease across an ACK is what it delivered
    /// (RFC 6937's DeliveredData, cumulatively acknowledged and newly SACKed together).</summary>
    private long Undelivered => (_sndMax - _sndUna) - _scoreboard.SackedBytes();

    /// <summary>Recovery began with the window at <paramref name="priorWindow"/>.</summary>
    private void StartPrr(long priorWindow)
    {
        _prrActive = _sackOk;
        _prrDelivered = _prrOut = _prrBudget = 0;
        _prrRecoverFs = Math.Max(priorWindow, _mss);
    }

    private bool PrrPaces => _prrActive && _cc.InRecovery;

    /// <summary>An ACK in recovery delivered <paramref name="delivered"/> bytes: the send budget until the next one.</summary>
    private void UpdatePrr(long delivered, TimeSpan now)
    {
        if (!PrrPaces || delivered <= 0) return;
        _prrDelivered += delivered;
        long pipe = RecoveryPipe(now), ssthresh = _cc.SlowStartThreshold, sndcnt;
        if (pipe > ssthresh) sndcnt = (_prrDelivered * ssthresh + _prrRecoverFs - 1) / _prrRecoverFs - _prrOut; // proportional
        else sndcnt = Math.Min(ssthresh - pipe, Math.Max(_prrDelivered - _prrOut, delivered) + _mss);      // slow-start reduction bound
        if (_prrOut == 0) sndcnt = Math.Max(sndcnt, _mss); // the fast retransmit itself always goes
        _prrBudget = Math.Max(0, sndcnt);
    }

    /// <summary>Called for every data segment sent: what recovery sent counts against the budget.</summary>
    private void CountPrrSend(int length)
    {
        if (!PrrPaces) return;
        _prrOut += length;
        _prrBudget -= length;
    }
}
