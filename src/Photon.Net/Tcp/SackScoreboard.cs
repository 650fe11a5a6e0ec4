namespace Photon.Net.Tcp;

/// <summary>
/// The sender's SACK scoreboard (RFC 2018, RFC 6675): the ranges above SND.UNA the peer reported holding, kept sorted
/// and merged and bounded to <see cref="MaxRanges"/> (the highest are dropped first), pruned as SND.UNA moves, and asked
/// for the next hole to retransmit.
/// </summary>
internal sealed class SackScoreboard
{
    public const int MaxRanges = 64;
    private readonly List<(SeqNumber Left, SeqNumber Right)> _ranges = new();

    public int Count => _ranges.Count;
    public IReadOnlyList<(SeqNumber Left, SeqNumber Right)> Ranges => _ranges;

    /// <summary>Merges the peer's blocks, ignoring any not inside (SND.UNA, SND.MAX].</summary>
    public void Add(ReadOnlySpan<(SeqNumber Left, SeqNumber Right)> blocks, SeqNumber sndUna, SeqNumber sndMax)
    {
        foreach (var (left, right) in blocks)
        {
            if (!(left < right) || !(right > sndUna) || right > sndMax) continue;
            _ranges.Add((SeqNumber.Max(left, sndUna), right));
        }
        _ranges.Sort((a, b) => Math.Sign(a.Left - b.Left));
        for (int i = 1; i < _ranges.Count; i++)
            if (_ranges[i].Left <= _ranges[i - 1].Right)
            {
                _ranges[i - 1] = (_ranges[i - 1].Left, SeqNumber.Max(_ranges[i].Right, _ranges[i - 1].Right));
                _ranges.RemoveAt(i--);
            }
        if (_ranges.Count > MaxRanges) _ranges.RemoveRange(MaxRanges, _ranges.Count - MaxRanges);
    }

    /// <summary>SND.UNA moved to <paramref name="ack"/>: forget what it covers.</summary>
    public void Prune(SeqNumber ack)
    {
        _ranges.RemoveAll(r => r.Right <= ack);
        if (_ranges.Count > 0 && _ranges[0].Left < ack) _ranges[0] = (ack, _ranges[0].Right);
    }

    public void Clear() => _ranges.Clear();

    /// <summary>Bytes the peer holds above SND.UNA (what RFC 6675's pipe leaves out of the flight).</summary>
    public long SackedBytes()
    {
        long n = 0;
        foreach (var (l, r) in _ranges) n += r - l;
        return n;
    }

    /// <summary>SACKed bytes below <paramref name="seq"/>: those of a go-back-N resend (after a timeout) that are not in
    /// the network, since the peer holds them and they are skipped.</summary>
    public long SackedBytesBelow(SeqNumber seq)
    {
        long n = 0;
        foreach (var (l, r) in _ranges)
            if (l < seq) n += SeqNumber.Min(r, seq) - l;
        return n;
    }

    /// <summary>Where a resend from <paramref name="seq"/> starts once the SACKed range it lies in (if any) is skipped.</summary>
    public SeqNumber SkipSacked(SeqNumber seq)
    {
        foreach (var (l, r) in _ranges)
            if (l <= seq && seq < r) return r;
        return seq;
    }

    /// <summary>The first un-SACKed range at or after <paramref name="from"/> that lies below the highest SACKed byte:
    /// [<paramref name="start"/>, <paramref name="end"/>). False when there is none (or nothing is SACKed).</summary>
    public bool TryNextHole(SeqNumber from, out SeqNumber start, out SeqNumber end)
    {
        start = from;
        end = default;
        if (_ranges.Count == 0) return false;
        var highest = _ranges[^1].Right;
        end = highest;
        foreach (var (l, r) in _ranges)
        {
            if (l <= start && start < r) start = r;
            else if (l > start) { end = l; break; }
        }
        return start < highest;
    }
}
