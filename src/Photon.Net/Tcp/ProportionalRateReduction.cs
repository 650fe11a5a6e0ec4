namespace Photon.Net.Tcp;

/// <summary>
/// The arithmetic of Proportional Rate Reduction (RFC 6937, PRR-SSRB as Linux's tcp_cwnd_reduction), in bytes: how much
/// a sender in recovery may send after each ACK. While the pipe is above ssthresh, sends follow deliveries in the ratio
/// ssthresh / RecoverFS, so the flight comes down to ssthresh smoothly over one round trip; at or below ssthresh (more
/// was lost than the reduction asked for), the slow-start reduction bound lets it grow back by at most one segment
/// more than was delivered per ACK.
/// </summary>
public sealed class ProportionalRateReduction
{
    private long _delivered, _out, _recoverFs;
    private int _mss = 536;

    /// <summary>Bytes that may still be sent until the next ACK (negative when a forced send overdrew it).</summary>
    public long Budget { get; private set; }

    /// <summary>Recovery began; <paramref name="recoverFs"/> is the window before the reduction (Linux's prior_cwnd).</summary>
    public void Start(long recoverFs, int mss)
    {
        _mss = mss;
        _delivered = _out = Budget = 0;
        _recoverFs = Math.Max(recoverFs, mss);
    }

    /// <summary>An ACK delivered <paramref name="delivered"/> bytes (cumulatively acknowledged or newly SACKed); the
    /// pipe after it is <paramref name="pipe"/>.</summary>
    public void OnAck(long delivered, long pipe, long ssthresh)
    {
        if (delivered <= 0) return;
        _delivered += delivered;
        long sndcnt;
        if (pipe > ssthresh)
        {
            // Proportional, rounded up to whole segments as Linux counts in packets: in bytes, the half segment a
            // delivery earns at β = 0.5 would wait for the next one (a sub-MSS send is sender-side silly window).
            long allowed = (_delivered * ssthresh + _recoverFs - 1) / _recoverFs;
            sndcnt = (allowed + _mss - 1) / _mss * _mss - _out;
        }
        else sndcnt = Math.Min(ssthresh - pipe, Math.Max(_delivered - _out, delivered) + _mss); // slow-start reduction bound
        if (_out == 0) sndcnt = Math.Max(sndcnt, _mss); // the fast retransmit itself always goes
        Budget = Math.Max(0, sndcnt);
    }

    /// <summary><paramref name="bytes"/> were sent during recovery.</summary>
    public void OnSent(long bytes)
    {
        _out += bytes;
        Budget -= bytes;
    }
}
