namespace Photon.Net.Tcp;

/// <summary>
/// SACK recovery paced by <see cref="ProportionalRateReduction"/> (RFC 6937) rather than by RFC 6675's pipe against a
/// window cut at once to ssthresh — which sends nothing until 30% of the flight has drained, then bursts. Runs under the
/// stack lock.
/// </summary>
public sealed partial class TcpConnection
{
    private readonly ProportionalRateReduction _prr = new();
    private bool _prrActive;

    /// <summary>Bytes outstanding that the peer has not shown it holds: their decrease across an ACK is what it delivered
    /// (RFC 6937's DeliveredData, cumulatively acknowledged and newly SACKed together).</summary>
    private long Undelivered => (_sndMax - _sndUna) - _scoreboard.SackedBytes();

    /// <summary>Recovery began with the window at <paramref name="priorWindow"/>.</summary>
    private void StartPrr(long priorWindow)
    {
        _prrActive = _sackOk;
        _prr.Start(priorWindow, _mss);
    }

    private bool PrrPaces => _prrActive && _cc.InRecovery;

    private long PrrBudget => _prr.Budget;

    /// <summary>An ACK in recovery delivered <paramref name="delivered"/> bytes: the send budget until the next one.</summary>
    private void UpdatePrr(long delivered, TimeSpan now)
    {
        if (PrrPaces && delivered > 0) _prr.OnAck(delivered, RecoveryPipe(now), _cc.SlowStartThreshold);
    }

    /// <summary>Called for every data segment sent: what recovery sent counts against the budget.</summary>
    private void CountPrrSend(int length)
    {
        if (PrrPaces) _prr.OnSent(length);
    }
}
