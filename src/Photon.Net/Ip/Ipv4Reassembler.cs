namespace Photon.Net;

/// <summary>
/// IPv4 fragment reassembly that nobody can hold shut. Limits: at most <see cref="NetworkStackOptions.MaxReassemblies"/>
/// datagrams in progress, at most <see cref="NetworkStackOptions.MaxReassemblyBytes"/> of fragment data held in all, at
/// most <see cref="NetworkStackOptions.MaxReassembliesPerSource"/> datagrams from one source, 65,535 bytes per datagram,
/// and a timeout. When a new datagram does not fit, the one that made progress longest ago is evicted (its sender is
/// slowest or gone: an honest datagram's fragments arrive back to back), and a source over its own limit evicts only its
/// own — so a flood of incomplete first fragments (issue #15: 200 of them shut a refuse-when-full table for 25 s) only
/// ever competes with itself. Memory is allocated per fragment received, not per datagram's maximum size. Overlapping
/// fragments drop the whole datagram (as RFC 5722 requires for IPv6): overlap is how fragment attacks smuggle headers past
/// filters, and no honest sender produces it. Guarded by the stack's lock.
/// </summary>
internal sealed class Ipv4Reassembler(NetworkStack stack)
{
    private readonly record struct Key(Ipv4Address Src, Ipv4Address Dst, byte Protocol, ushort Id);

    private sealed class Partial(TimeSpan now)
    {
        public readonly List<(int Start, byte[] Data)> Pieces = new();
        public int TotalLength = -1; // known once the last fragment (MF = 0) arrives
        public readonly TimeSpan Started = now;
        public TimeSpan LastProgress = now;
        public int Received;
    }

    /// <summary>What one datagram in progress costs beyond its fragment bytes (entry, lists, headers), charged to the budget.</summary>
    internal const int OverheadPerDatagram = 256;

    private readonly Dictionary<Key, Partial> _partials = new();
    private readonly Dictionary<Ipv4Address, int> _perSource = new();
    private long _bytesHeld;

    public int InProgress => _partials.Count;

    /// <summary>Fragment bytes plus per-datagram overhead currently held.</summary>
    public long BytesHeld => _bytesHeld;

    /// <summary>Adds a fragment. Returns the whole datagram's payload when this fragment completes it.</summary>
    public byte[]? Add(Ipv4Address src, Ipv4Address dst, byte protocol, ushort id, int offset, bool moreFragments,
        ReadOnlySpan<byte> payload, TimeSpan now)
    {
        var key = new Key(src, dst, protocol, id);
        var options = stack.Options;
        int end = offset + payload.Length;
        if (end > Wire.Ipv4Packet.MaxLength - Wire.Ipv4Packet.HeaderLength || (moreFragments && payload.Length % 8 != 0) || payload.Length == 0)
        {
            stack.Count(DropReason.BadFragment);
            Remove(key);
            return null;
        }
        if (!_partials.TryGetValue(key, out var p))
        {
            if (!MakeRoomForNew(src, payload.Length)) { stack.Count(DropReason.ReassemblyLimit); return null; }
            _partials[key] = p = new Partial(now);
            _perSource[src] = _perSource.GetValueOrDefault(src) + 1;
            _bytesHeld += OverheadPerDatagram;
        }
        else
            while (_bytesHeld + payload.Length > options.MaxReassemblyBytes)
                if (!EvictStalest(except: key)) { stack.Count(DropReason.ReassemblyLimit); return null; }
        foreach (var (s, data) in p.Pieces)
            if (offset < s + data.Length && s < end)
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
        p.Pieces.Add((offset, payload.ToArray()));
        p.Received += payload.Length;
        p.LastProgress = now;
        _bytesHeld += payload.Length;
        if (p.TotalLength < 0 || p.Received != p.TotalLength) return null;
        Remove(key);
        stack.Count(Counter.Reassembled);
        var whole = new byte[p.TotalLength];
        foreach (var (s, data) in p.Pieces) data.CopyTo(whole, s);
        return whole;
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

    // A source at its own limit gives up its own stalest datagram; otherwise, while the table or the byte budget is
    // full, the globally stalest goes. Each eviction is counted so a flood shows in the stats.
    private bool MakeRoomForNew(Ipv4Address src, int firstFragment)
    {
        var options = stack.Options;
        if (options.MaxReassemblies <= 0 || options.MaxReassembliesPerSource <= 0) return false;
        if (_perSource.GetValueOrDefault(src) >= options.MaxReassembliesPerSource && !EvictStalest(src)) return false;
        while (_partials.Count >= options.MaxReassemblies
               || _bytesHeld + OverheadPerDatagram + firstFragment > options.MaxReassemblyBytes)
            if (!EvictStalest()) return false;
        return true;
    }

    private bool EvictStalest(Ipv4Address? from = null, Key? except = null)
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
        _bytesHeld -= OverheadPerDatagram + p.Received;
        if (_perSource[key.Src] == 1) _perSource.Remove(key.Src);
        else _perSource[key.Src]--;
    }
}
