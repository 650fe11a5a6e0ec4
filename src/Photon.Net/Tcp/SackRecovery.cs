namespace Photon.Net.Tcp;

/// <summary>
/// SACK loss recovery beyond the next hole (RFC 6675 with RFC 8985's RACK): segments RACK deems lost — a first
/// transmission overtaken by later deliveries, or a retransmission that was lost too — are resent as soon as the ACK
/// or the tick that shows it arrives, paced by the pipe (bytes in flight, less those SACKed and those deemed lost), and
/// start recovery by themselves when too few duplicate ACKs came to start it. When no hole is left to repair but the
/// flight's tail is still unacknowledged, one rescue retransmission per recovery (RFC 6675 §4, NextSeg rule 4) sends
/// the last segment, so a tail lost during recovery is not left to the retransmission timer. Runs under the stack lock.
/// </summary>
public sealed partial class TcpConnection
{
    private const int MaxRepairsPerEvent = 16;
    private readonly RackTlp _rack = new();
    private SeqNumber _rescueRxt; // RFC 6675 RescueRxt: the recovery point of the recovery that used its rescue

    /// <summary>RFC 6582 §3.2 step 1: a new recovery only once the cumulative ACK covers more than "recover", the
    /// highest byte sent when the last recovery (or timeout) began — not twice for one window. <c>_recover</c> holds
    /// SND.MAX then, one past that byte, so SND.UNA reaching it is enough: requiring SND.UNA to pass it left the loss of
    /// the first segment sent after a recovery to the retransmission timer (the RTO of scattered losses).</summary>
    private bool MayStartRecovery => _sndUna >= _recover;

    /// <summary>RACK's reordering window (RFC 8985 §6.2 step 4): zero while the path has shown no reordering and the
    /// sender is in recovery or DupThresh segments are SACKed — a hole below SACKed data is lost at once, as three
    /// duplicate ACKs would say. Otherwise a quarter of the smoothed RTT, at least one tick (timestamps give the RTT
    /// in whole milliseconds). The tick floor used to apply always: on a sub-millisecond path every loss RACK found
    /// waited for the next 10 ms tick, 25 round trips, and at 5% loss that was most of the transfer's time.</summary>
    private TimeSpan ReorderingWindow =>
        !_rack.ReorderingSeen && (_cc.InRecovery || _scoreboard.SackedBytes() >= 3L * _mss)
            ? TimeSpan.Zero
            : TimeSpan.FromTicks(Math.Max(_rtt.Srtt.Ticks / 4, _stack.Options.TickInterval.Ticks));

    /// <summary>RFC 6675 SetPipe, with RACK's verdict as IsLost: in flight, less SACKed, less lost and not yet resent.</summary>
    private long RecoveryPipe(TimeSpan now) =>
        Math.Max(0, (_sndNxt - _sndUna) - _scoreboard.SackedBytes() - _rack.LostBytes(now, ReorderingWindow, _scoreboard));

    /// <summary>Called after every ACK and on every tick with data in flight: updates RACK and resends what it deems lost.</summary>
    private void RepairLostSegments(TimeSpan now)
    {
        // Delivered ranges are forgotten on every ACK, also one that leaves nothing in flight and on a connection without
        // SACK: they were pruned only while data stayed outstanding, so a request/response connection (each reply ACKed
        // whole) grew the list to RackTlp.MaxTracked, cleared it and grew it again — ~40 B of arrays per round trip.
        if (_rack.Tracked > 0) _rack.OnAck(_sndUna, _scoreboard, now);
        if (!_sackOk || !_stack.Options.TcpRack || _sndUna == _sndMax) return;
        if (_scoreboard.Count == 0) return; // RACK needs a delivery beyond SND.UNA to judge anything lost
        long pipe = -1;
        for (int i = 0; i < MaxRepairsPerEvent; i++)
        {
            if (!_rack.TryFirstLost(now, ReorderingWindow, _scoreboard, out var start, out var end)) return;
            if (!_cc.InRecovery)
            {
                if (!MayStartRecovery) return;
                _recover = _sndMax;
                _rexmitNext = _sndUna;
                StartPrr(_cc.Window);
                _cc.OnFastRetransmit(_sndMax - _sndUna);
                ArmUndo();
                _stack.Count(Counter.TcpFastRetransmits);
            }
            if (pipe < 0) pipe = RecoveryPipe(now);
            if (i > 0 && (PrrPaces ? PrrBudget <= 0 : pipe >= _cc.Window)) return; // one per event always (ACK clocking), more as PRR allows
            int offset = start - _sndUna;
            int n = (int)Math.Min(Math.Min(_mss, end - start), _send.Count - offset);
            if (offset < 0 || n <= 0) return;
            SendData(start, offset, n, push: false); // restamps the range in RACK: not lost again for a round trip
            if (_rexmitNext < start + n && _rexmitNext >= start) _rexmitNext = start + n;
            pipe += n;
            _rtt.OnRetransmit(start, n);
            NoteRecoveryRetransmit(start, n);
            _retransmits++;
            _stack.Count(Counter.TcpRetransmits);
            _stack.Count(Counter.TcpRackRetransmits);
        }
    }

    /// <summary>RFC 2883 D-SACK: the first block reports data the peer received twice — at or below the cumulative ACK,
    /// or inside the second block. Counted (it tells spurious retransmissions from real losses: netloss bench) and
    /// crossed off the current episode's retransmissions (<see cref="OnDuplicateSackForUndo"/>).</summary>
    private void CountDuplicateSack(SeqNumber ack, ReadOnlySpan<(SeqNumber Left, SeqNumber Right)> blocks)
    {
        if (blocks.IsEmpty) return;
        var (l, r) = blocks[0];
        if (r <= ack || (blocks.Length > 1 && blocks[1].Left <= l && r <= blocks[1].Right))
        {
            _stack.Count(Counter.TcpDuplicateSacks);
            OnDuplicateSackForUndo(l, r);
        }
    }

    /// <summary>RFC 6675 NextSeg rule 4: no hole below the highest SACKed byte is left, yet the tail above it is
    /// unacknowledged and no new data is going out — resend the flight's last segment, once per recovery. Timed as
    /// RFC 8985's probe is (2·SRTT since the tail was last sent, at least a tick): sent at once, as rule 4 reads, it went
    /// out on the ACK that closed the last hole while the tail's own ACKs were still on their way (a spurious resend in
    /// most recoveries); <see cref="Tick"/> calls it again until the tail is acknowledged or the delay has passed.</summary>
    private void TryRescueRetransmission(TimeSpan now)
    {
        if (!_cc.InRecovery || _scoreboard.Count == 0 || _rescueRxt == _recover) return;
        if (_scoreboard.TryNextHole(SeqNumber.Max(_rexmitNext, _sndUna), out _, out _)) return; // holes first
        var tailEnd = SeqNumber.Min(_recover, _sndUna + _send.Count);
        var highestSacked = _scoreboard.Ranges[^1].Right;
        if (highestSacked >= tailEnd) return;
        long unsent = _send.Count - (_sndNxt - _sndUna);
        if (unsent > 0 && _sndWnd > _sndNxt - _sndUna) return; // new data will show the tail's fate
        var delay = TimeSpan.FromTicks(Math.Max(2 * _rtt.Srtt.Ticks, _stack.Options.TickInterval.Ticks));
        if (_rack.LastSentAt(tailEnd - 1) is { } at && now - at < delay) return;
        int n = (int)Math.Min(_mss, tailEnd - highestSacked);
        var start = tailEnd - n;
        SendData(start, start - _sndUna, n, push: true);
        _rescueRxt = _recover;
        _rtt.OnRetransmit(start, n);
        NoteRecoveryRetransmit(start, n);
        _retransmits++;
        _stack.Count(Counter.TcpRetransmits);
        _stack.Count(Counter.TcpRescueRetransmits);
    }
}
