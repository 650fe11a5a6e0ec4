namespace Photon.Net;

/// <summary>A reassembled IPv6 datagram: the next header named by its first fragment and the fragmentable part.</summary>
internal sealed record Ipv6Datagram(byte NextHeader, byte[] Payload);

/// <summary>
/// IPv6 fragment reassembly (RFC 8200 §4.5) with the IPv4 table's defences (<see cref="Ipv4Reassembler"/>) and budgets
/// (the same <see cref="NetworkStackOptions"/> limits, a separate table): a bounded number of datagrams in progress, a byte
/// budget, a per-source limit, eviction of the datagram that made progress longest ago, and a timeout. RFC 5722:
/// overlapping fragments drop the whole datagram, and so do fragments past the end the last one set. Keyed by source,
/// destination and the 32-bit identification. Atomic fragments never get here (RFC 6946: the chain walk processes them
/// in place). Guarded by the stack's lock.
/// </summary>
internal sealed class Ipv6Reassembler(NetworkStack stack)
{
    private readonly record struct Key(Ipv6Address Src, Ipv6Address Dst, uint Id);

    private sealed class Partial(TimeSpan now)
    {
        public readonly List<(int Start, byte[] Data)> Pieces = new();
        public int TotalLength = -1; // known once the last fragment (M = 0) arrives
        public int NextHeader = -1;  // known once the first fragment (offset 0) arrives
        public readonly TimeSpan Started = now;
        public TimeSpan LastProgress = now;
        public int Received;
    }

    /// <summary>The largest fragmentable part: what fits in a 65,535-byte payload after one fragment header.</summary>
    internal const int MaxDatagram = 65535 - 8;

    private readonly Dictionary<Key, Partial> _partials = new();
    private readonly Dictionary<Ipv6Address, int> _perSource = new();
    private long _bytesHeld;

    public int InProgress => _partials.Count;
    public long BytesHeld => _bytesHeld;

    /// <summary>Adds a fragment (its data after the fragment header); returns the datagram when this completes it.</summary>
    public Ipv6Datagram? Add(Ipv6Address src, Ipv6Address dst, uint id, byte nextHeader, int offset, bool moreFragments,
        ReadOnlySpan<byte> data, TimeSpan now)
    {
        var key = new Key(src, dst, id);
        var options = stack.Options;
        int end = offset + data.Length;
        if (end > MaxDatagram || data.Length == 0)
        {
            stack.Count(DropReason.BadFragment);
            Remove(key);
            return null;
        }
        if (!_partials.TryGetValue(key, out var p))
        {
            if (!MakeRoomForNew(src, data.Length)) { stack.Count(DropReason.ReassemblyLimit); return null; }
            _partials[key] = p = new Partial(now);
            _perSource[src] = _perSource.GetValueOrDefault(src) + 1;
            _bytesHeld += Ipv4Reassembler.OverheadPerDatagram;
        }
        else
            while (_bytesHeld + data.Length > options.MaxReassemblyBytes)
                if (!EvictStalest(except: key)) { stack.Count(DropReason.ReassemblyLimit); return null; }
        foreach (var (s, piece) in p.Pieces)
            if (offset < s + piece.Length && s < end)
            {
                stack.Count(DropReason.OverlappingFragment);
                Remove(key);
                return null;
            }
        if (!moreFragments)
        {
            if (p.TotalLength >= 0 || p.Pieces.Any(x => x.Start + x.Data.Length > end)) { stack.Count(DropReason.BadFragment); Remove(key); return null; }
            p.TotalLength = end;
        }
        else if (p.TotalLength >= 0 && end > p.TotalLength) { stack.Count(DropReason.BadFragment); Remove(key); return null; }
        if (offset == 0) p.NextHeader = nextHeader;
        p.Pieces.Add((offset, data.ToArray()));
        p.Received += data.Length;
        p.LastProgress = now;
        _bytesHeld += data.Length;
        if (p.TotalLength < 0 || p.Received != p.TotalLength) return null;
        Remove(key);
        stack.Count(Counter.Reassembled);
        var whole = new byte[p.TotalLength];
        foreach (var (s, piece) in p.Pieces) piece.CopyTo(whole, s);
        return new Ipv6Datagram((byte)p.NextHeader, whole);
    }

    public void Tick(TimeSpan now)
    {
        if (_partials.Count == 0) return;
        foreach (var k in _partials.Where(kv => now - kv.Value.Started > stack.Options.ReassemblyTimeout).Select(kv => kv.Key).ToList())
        {
            Remove(k);
            stack.Count(DropReason.ReassemblyTimeout);
        }
    }

    private bool MakeRoomForNew(Ipv6Address src, int firstFragment)
    {
        var options = stack.Options;
        if (options.MaxReassemblies <= 0 || options.MaxReassembliesPerSource <= 0) return false;
        if (_perSource.GetValueOrDefault(src) >= options.MaxReassembliesPerSource && !EvictStalest(src)) return false;
        while (_partials.Count >= options.MaxReassemblies
               || _bytesHeld + Ipv4Reassembler.OverheadPerDatagram + firstFragment > options.MaxReassemblyBytes)
            if (!EvictStalest()) return false;
        return true;
    }

    private bool EvictStalest(Ipv6Address? from = null, Key? except = null)
    {
        Key? victim = null;
        TimeSpan oldest = TimeSpan.MaxValue;
        foreach (var (k, p) in _partials)
        {
            if ((from is { } f && k.Src != f) || (except is { } e && k == e)) continue;
            if (p.LastProgress < oldest) { oldest = p.LastProgress; victim = k; }
        }
        if (victim is not { } v) return false;
        Remove(v);
        stack.Count(DropReason.ReassemblyEvicted);
        return true;
    }

    private void Remove(Key key)
    {
        if (!_partials.Remove(key, out var p)) return;
        _bytesHeld -= Ipv4Reassembler.OverheadPerDatagram + p.Received;
        if (_perSource[key.Src] == 1) _perSource.Remove(key.Src);
        else _perSource[key.Src]--;
    }
}
