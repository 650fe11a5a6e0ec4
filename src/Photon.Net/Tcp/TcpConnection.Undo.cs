namespace Photon.Net.Tcp;

/// <summary>
/// Undo of a spurious window reduction (RFC 2883 §5, as Linux's <c>tcp_try_undo_dsack</c>/<c>tcp_try_undo_recovery</c>):
/// a recovery episode whose every retransmission the peer reports received twice (a D-SACK for each) was started by
/// reordering or delay, not loss — so the congestion controller restores the window and threshold it had before the
/// cut. The episode's retransmitted ranges are remembered (bounded; past the bound the episode cannot be undone), a
/// D-SACK covering one crosses it off, and with none left once recovery is over the reduction is undone, once. A
/// timeout disarms it (that cut stands). Runs under the stack lock.
/// </summary>
public sealed partial class TcpConnection
{
    private const int MaxUndoRanges = 64;
    private readonly List<(SeqNumber Start, SeqNumber End)> _undoRanges = new();
    private bool _undoArmed;    // an episode's reduction may still be undone
    private bool _undoOverflow; // more retransmissions than remembered: this episode cannot be undone
    private bool _undoRetransmitted; // the episode resent something (an episode that resent nothing is not undone)
    private SeqNumber _undoMarker, _undoEnd; // the episode's data: SND.UNA and SND.MAX when it began

    /// <summary>A recovery episode began (after the controller's reduction): its retransmissions are tracked from now.</summary>
    private void ArmUndo()
    {
        // Not with a loss probe or any retransmission still outstanding: it went out before the episode and may have
        // repaired a real loss that no D-SACK will ever report (Linux counts those in undo_retrans; with none of them
        // reported this never undoes either).
        _undoArmed = !_tlpSent && !_rack.AnyRetransmitted();
        _undoOverflow = false;
        _undoRetransmitted = false;
        _undoRanges.Clear();
        _undoMarker = _sndUna;
        _undoEnd = _sndMax;
    }

    private void DisarmUndo()
    {
        _undoArmed = false;
        _undoRanges.Clear();
    }

    /// <summary>A retransmission during recovery: one more the peer must report as a duplicate for an undo.</summary>
    private void NoteRecoveryRetransmit(SeqNumber start, int length)
    {
        if (!_undoArmed || !_cc.InRecovery || length <= 0) return;
        _undoRetransmitted = true;
        if (_undoRanges.Count >= MaxUndoRanges) { _undoOverflow = true; return; }
        _undoRanges.Add((start, start + length));
    }

    /// <summary>The first SACK block was a D-SACK for [<paramref name="left"/>, <paramref name="right"/>): crosses off
    /// the episode's retransmissions it covers, then undoes the reduction if that was the last one.</summary>
    private void OnDuplicateSackForUndo(SeqNumber left, SeqNumber right)
    {
        if (!_undoArmed || left < _undoMarker || right > _undoEnd) return;
        // One copy of each range the block covers: a segment resent twice and reported once was lost once.
        foreach (var r in _undoRanges.Where(r => left <= r.Start && r.End <= right).Distinct().ToList()) _undoRanges.Remove(r);
        TryUndo();
    }

    /// <summary>Undoes the episode's reduction once recovery is over and the peer has reported every retransmission of
    /// it as a duplicate (nothing was lost). An episode that resent nothing is left alone: its loss may have been
    /// repaired by a loss probe before it began (an undo there held the window at 95 segments through every-20th-segment
    /// loss in <c>CongestionUnderLossTests</c>).</summary>
    private void TryUndo()
    {
        if (!_undoArmed || _cc.InRecovery || _undoOverflow || !_undoRetransmitted || _undoRanges.Count > 0) return;
        DisarmUndo();
        _cc.UndoReduction();
        _stack.Count(Counter.TcpSpuriousRecoveriesUndone);
    }
}
