namespace Photon.Net.Tcp;

/// <summary>
/// The retransmission timeout of RFC 6298: SRTT and RTTVAR from round-trip samples (α = 1/8, β = 1/4), RTO = SRTT +
/// max(G, 4·RTTVAR) clamped to [min, max], doubled on every timeout. Without timestamps one segment at a time is timed,
/// and Karn's rule drops the measurement when that segment is retransmitted; with timestamps every ACK gives a sample
/// (<see cref="Sample"/>).
/// </summary>
internal sealed class RttEstimator(TimeSpan initialRto, TimeSpan minRto, TimeSpan maxRto, TimeSpan granularity)
{
    private bool _timing;
    private SeqNumber _timedSeq;
    private TimeSpan _timedAt;

    public TimeSpan Srtt { get; private set; }
    public TimeSpan RttVar { get; private set; }
    public TimeSpan Rto { get; private set; } = initialRto;
    public bool HasSample { get; private set; }
    public TimeSpan MaxRto => maxRto;
    public TimeSpan MinRto => minRto;

    /// <summary>True while a segment is being timed.</summary>
    public bool IsTiming => _timing;

    public void StartTiming(SeqNumber seq, TimeSpan now)
    {
        _timing = true;
        _timedSeq = seq;
        _timedAt = now;
    }

    public void StopTiming() => _timing = false;

    /// <summary>Karn's rule: a retransmission of the timed segment makes its ACK ambiguous.</summary>
    public void OnRetransmit(SeqNumber start, int length)
    {
        if (_timing && start <= _timedSeq && _timedSeq < start + length) _timing = false;
    }

    /// <summary>An ACK up to <paramref name="ack"/>: the timed segment, once covered, gives a sample.</summary>
    public void OnAck(SeqNumber ack, TimeSpan now)
    {
        if (!_timing || ack <= _timedSeq) return;
        Sample(now - _timedAt);
        _timing = false;
    }

    public void Sample(TimeSpan r)
    {
        if (!HasSample)
        {
            Srtt = r;
            RttVar = r / 2;
            HasSample = true;
        }
        else
        {
            var delta = Srtt > r ? Srtt - r : r - Srtt;
            RttVar = (RttVar * 3 + delta) / 4;
            Srtt = (Srtt * 7 + r) / 8;
        }
        Rto = Clamp(Srtt + Max(granularity, RttVar * 4));
    }

    /// <summary>A retransmission timeout: back off exponentially (RFC 6298 §5.5).</summary>
    public void Backoff() => Rto = Clamp(Rto * 2);

    public TimeSpan Clamp(TimeSpan v) => v < minRto ? minRto : v > maxRto ? maxRto : v;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
