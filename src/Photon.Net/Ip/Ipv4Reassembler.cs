namespace Photon.Net;

/// <summary>
/// IPv4 fragment reassembly with hard limits: at most <see cref="NetworkStackOptions.MaxReassemblies"/> datagrams in
/// progress (new ones are refused when full, so a flood of first fragments cannot evict real traffic already half
/// built), at most 65,535 bytes each, and a timeout after which partial datagrams are dropped. Overlapping fragments
/// drop the whole datagram (as RFC 5722 requires for IPv6): overlap is how fragment attacks smuggle headers past
/// filters, and no honest sender produces it. Guarded by the stack's lock.
/// </summary>
internal sealed class Ipv4Reassembler(NetworkStack stack)
{
    private readonly record struct Key(Ipv4Address Src, Ipv4Address Dst, byte Protocol, ushort Id);

    private sealed class Partial
    {
        public readonly byte[] Data = new byte[Wire.Ipv4Packet.MaxLength];
        public readonly List<(int Start, int End)> Pieces = new();
        public int TotalLength = -1; // known once the last fragment (MF = 0) arrives
        public TimeSpan Started;
        public int Received;
    }

    private readonly Dictionary<Key, Partial> _partials = new();

    public int InProgress => _partials.Count;

    /// <summary>Adds a fragment. Returns the whole datagram's payload when this fragment completes it.</summary>
    public byte[]? Add(Ipv4Address src, Ipv4Address dst, byte protocol, ushort id, int offset, bool moreFragments,
        ReadOnlySpan<byte> payload, TimeSpan now)
    {
        var key = new Key(src, dst, protocol, id);
        int end = offset + payload.Length;
        if (end > Wire.Ipv4Packet.MaxLength - Wire.Ipv4Packet.HeaderLength || (moreFragments && payload.Length % 8 != 0) || payload.Length == 0)
        {
            stack.Count(DropReason.BadFragment);
            _partials.Remove(key);
            return null;
        }
        if (!_partials.TryGetValue(key, out var p))
        {
            if (_partials.Count >= stack.Options.MaxReassemblies) { stack.Count(DropReason.ReassemblyLimit); return null; }
            _partials[key] = p = new Partial { Started = now };
        }
        foreach (var (s, e) in p.Pieces)
            if (offset < e && s < end)
            {
                stack.Count(DropReason.OverlappingFragment);
                _partials.Remove(key);
                return null;
            }
        if (!moreFragments)
        {
            if (p.TotalLength >= 0 || p.Pieces.Any(x => x.End > end)) { stack.Count(DropReason.BadFragment); _partials.Remove(key); return null; }
            p.TotalLength = end;
        }
        else if (p.TotalLength >= 0 && end > p.TotalLength) { stack.Count(DropReason.BadFragment); _partials.Remove(key); return null; }
        payload.CopyTo(p.Data.AsSpan(offset));
        p.Pieces.Add((offset, end));
        p.Received += payload.Length;
        if (p.TotalLength < 0 || p.Received != p.TotalLength) return null;
        _partials.Remove(key);
        stack.Count(Counter.Reassembled);
        return p.Data.AsSpan(0, p.TotalLength).ToArray();
    }

    public void Tick(TimeSpan now)
    {
        if (_partials.Count == 0) return;
        foreach (var k in _partials.Where(kv => now - kv.Value.Started > stack.Options.ReassemblyTimeout).Select(kv => kv.Key).ToList())
        {
            _partials.Remove(k);
            stack.Count(DropReason.ReassemblyTimeout);
        }
    }
}
