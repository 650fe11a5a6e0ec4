using Photon.Net.Wire;

namespace Photon.Net.Tcp;

/// <summary>
/// The SACK blocks this end sends as a receiver. RFC 2018 §4: the first block holds the segment that triggered the ACK,
/// and the rest repeat the most recently reported blocks, so a sender that lost an ACK or two still learns of every
/// island — reporting the lowest islands instead (as this did) left higher islands, once more than three, unreported
/// except in the one ACK their own arrival triggered. RFC 2883: a segment received twice (wholly below RCV.NXT, or
/// already held out of order) is reported once in a D-SACK block ahead of the others, so the sender can tell a spurious
/// retransmission from a loss (Linux senders undo their window cut on it). As many blocks as the option space allows:
/// four without timestamps, three with. Runs under the stack lock.
/// </summary>
public sealed partial class TcpConnection
{
    private const int RecentArrivals = TcpRepr.MaxSentSackBlocks;
    private readonly SeqNumber[] _recentArrivals = new SeqNumber[RecentArrivals]; // most recent first
    private int _recentCount;
    private (SeqNumber Left, SeqNumber Right)? _duplicateSack;

    /// <summary>An out-of-order segment starting at <paramref name="seq"/> arrived: its island is reported first next,
    /// then the islands of the arrivals before it.</summary>
    private void NoteOutOfOrderArrival(SeqNumber seq)
    {
        int at = Array.IndexOf(_recentArrivals, seq, 0, _recentCount);
        int shift = at >= 0 ? at : Math.Min(_recentCount, RecentArrivals - 1);
        Array.Copy(_recentArrivals, 0, _recentArrivals, 1, shift);
        _recentArrivals[0] = seq;
        if (at < 0 && _recentCount < RecentArrivals) _recentCount++;
    }

    /// <summary>[<paramref name="left"/>, <paramref name="right"/>) arrived again: the next pure ACK reports it as a D-SACK.</summary>
    private void NoteDuplicate(SeqNumber left, SeqNumber right)
    {
        if (_sackOk && left < right) _duplicateSack = (left, right);
    }

    private void FillSackBlocks(ref TcpRepr h, bool duplicate)
    {
        int count = 0;
        if (duplicate && _duplicateSack is { } d) h.Sack[count++] = d;
        if (!_sackOk || _outOfOrder.Count == 0) { h.SackCount = count; return; }
        Span<(SeqNumber Left, SeqNumber Right)> ranges = stackalloc (SeqNumber, SeqNumber)[Math.Min(_outOfOrder.Count, MaxOutOfOrderSegments)];
        int n = 0;
        foreach (var (seq, data, _) in _outOfOrder.OrderBy(x => x.Seq - _rcvNxt))
        {
            if (data.Length == 0 || seq + data.Length <= _rcvNxt) continue;
            SeqNumber left = seq < _rcvNxt ? _rcvNxt : seq, right = seq + data.Length;
            if (n > 0 && left <= ranges[n - 1].Right) ranges[n - 1].Right = SeqNumber.Max(right, ranges[n - 1].Right);
            else ranges[n++] = (left, right);
        }
        Span<bool> sent = stackalloc bool[n];
        // The islands of the latest arrivals, most recent first; then the lowest islands not yet named.
        for (int a = 0; a < _recentCount && count < TcpRepr.MaxSentSackBlocks; a++)
            for (int i = 0; i < n; i++)
                if (!sent[i] && _recentArrivals[a].InRange(ranges[i].Left, ranges[i].Right)) { sent[i] = true; h.Sack[count++] = ranges[i]; break; }
        for (int i = 0; i < n && count < TcpRepr.MaxSentSackBlocks; i++)
            if (!sent[i]) h.Sack[count++] = ranges[i];
        h.SackCount = count;
    }
}
