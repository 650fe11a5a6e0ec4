using Photon.Kernel.Hal;
using Photon.Net.Device;
using Photon.Net.Wire;

namespace Photon.Net;

/// <summary>
/// IPv6 (RFC 8200) input and output. Input: the fixed header through <see cref="Ipv6Packet"/>, martian sources dropped,
/// the extension header chain walked with limits (<see cref="Ipv6HeaderChain"/>; parameter problems answered), fragments
/// reassembled (<see cref="Ipv6Reassembler"/>), delivery to ICMPv6. Output: next hop (on-link or the default router),
/// neighbour resolution, and fragmentation of our own datagrams larger than the path MTU. Runs under the stack's lock.
/// </summary>
internal sealed class Ipv6Layer
{
    private readonly NetworkStack _stack;
    private readonly Ipv6Reassembler _reassembler;
    private uint _nextFragmentId = (uint)Random.Shared.Next();

    public Ipv6Layer(NetworkStack stack)
    {
        _stack = stack;
        Icmp = new Icmpv6Layer(stack);
        _reassembler = new Ipv6Reassembler(stack);
    }

    public Icmpv6Layer Icmp { get; }

    internal long ReassemblyBytesHeld => _reassembler.BytesHeld;
    internal int ReassembliesInProgress => _reassembler.InProgress;

    /// <summary>DAD, router solicitation, address and router lifetimes, the neighbour caches, reassembly timeouts.</summary>
    public void Tick(TimeSpan now)
    {
        foreach (var nic in _stack.InterfacesUnlocked) nic.Ipv6.Tick(now);
        _reassembler.Tick(now);
    }

    /// <summary>Sources no honest sender on the link uses: multicast, loopback, IPv4-mapped, or one of our own addresses.
    /// The unspecified address is allowed here (DAD probes and router solicitations use it) and checked by NDP.</summary>
    private static bool IsMartianSource(Ipv6Interface v6, Ipv6Address src) =>
        src.IsMulticast || src.IsLoopback || src.IsIpv4Mapped || v6.IsAssigned(src);

    public void Handle(NetInterface nic, ReadOnlySpan<byte> buffer)
    {
        var v6 = nic.Ipv6;
        if (!v6.Enabled) { _stack.Count(DropReason.UnsupportedEtherType); return; }
        if (!Ipv6Packet.TryParse(buffer, out var ip, out var why)) { _stack.Count(why); return; }
        var src = ip.Source;
        var dst = ip.Destination;
        if (IsMartianSource(v6, src)) { _stack.Count(DropReason.MartianSource); return; }
        if (!v6.AcceptsDestination(dst)) { _stack.Count(DropReason.NotForUs); return; }
        var payload = ip.Payload;
        var chain = Ipv6HeaderChain.Walk(payload, ip.NextHeader, dst.IsMulticast);
        switch (chain.Outcome)
        {
            case Ipv6ChainOutcome.Drop:
                _stack.Count(chain.Why);
                return;
            case Ipv6ChainOutcome.ParameterProblem:
                _stack.Count(chain.Why);
                Icmp.SendError(nic, Icmpv6Type.ParameterProblem, chain.ProblemCode, (uint)chain.ProblemPointer, ip.Bytes, dst,
                    toMulticastAllowed: chain.ProblemCode == Ipv6HeaderChain.UnrecognizedOption);
                return;
            case Ipv6ChainOutcome.Fragment:
                HandleFragment(nic, ip, chain);
                return;
        }
        Deliver(nic, src, dst, ip.HopLimit, chain.NextHeader, payload[chain.Offset..], ip.Bytes, chain.ProblemPointer);
    }

    private void HandleFragment(NetInterface nic, in Ipv6Packet ip, Ipv6HeaderChain chain)
    {
        var data = ip.Payload[chain.Offset..];
        // RFC 8200 §4.5: a fragment other than the last must carry a multiple of 8 bytes; answered with a parameter
        // problem pointing at the payload length.
        if (chain.MoreFragments && (data.Length == 0 || data.Length % 8 != 0))
        {
            _stack.Count(DropReason.BadFragment);
            Icmp.SendError(nic, Icmpv6Type.ParameterProblem, Ipv6HeaderChain.ErroneousField, 4, ip.Bytes, ip.Destination, false);
            return;
        }
        var whole = _reassembler.Add(ip.Source, ip.Destination, chain.FragmentId, chain.NextHeader, chain.FragmentOffset,
            chain.MoreFragments, data, _stack.Now);
        if (whole is null) return;
        // The reassembled datagram: the headers after the fragment header, then the upper layer (RFC 8200 §4.5). No
        // ICMPv6 error is sent about it (there is no original packet to quote), so problems are counted drops.
        var inner = Ipv6HeaderChain.Walk(whole.Payload, whole.NextHeader, ip.Destination.IsMulticast);
        if (inner.Outcome != Ipv6ChainOutcome.UpperLayer)
        {
            _stack.Count(inner.Outcome == Ipv6ChainOutcome.Fragment ? DropReason.BadFragment : inner.Why);
            return;
        }
        Deliver(nic, ip.Source, ip.Destination, ip.HopLimit, inner.NextHeader, whole.Payload.AsSpan(inner.Offset), default, -1);
    }

    private void Deliver(NetInterface nic, Ipv6Address src, Ipv6Address dst, byte hopLimit, byte protocol, ReadOnlySpan<byte> data,
        ReadOnlySpan<byte> original, int nextHeaderPointer)
    {
        switch (protocol)
        {
            case Ipv6NextHeader.Icmpv6: Icmp.Handle(nic, src, dst, hopLimit, data); break;
            case Ipv6NextHeader.NoNextHeader: break; // nothing follows, by design (RFC 8200 §4.7)
            case Ipv6NextHeader.Udp: _stack.Udp.Handle6(nic, src, dst, data, original); break;
            // The device's word on the checksum holds for the frame as received, not for a datagram reassembled from
            // fragments (whose caller passes no original packet).
            case Ipv6NextHeader.Tcp: _stack.Tcp.Handle(src, dst, data, checksumVerified: _stack.RxChecksumVerified && !original.IsEmpty); break;
            default:
                _stack.Count(DropReason.UnsupportedProtocol);
                if (nextHeaderPointer >= 0 && !original.IsEmpty)
                    Icmp.SendError(nic, Icmpv6Type.ParameterProblem, Ipv6HeaderChain.UnrecognizedNextHeader, (uint)nextHeaderPointer, original, dst, false);
                break;
        }
    }

    // ---- output ----

    /// <summary>Writes the IPv6 header (and, for ICMPv6, the checksum) and the Ethernet type of a frame from
    /// <see cref="Ipv6Frame.New"/>.</summary>
    internal static void Fill(byte[] frame, Ipv6Address src, Ipv6Address dst, byte nextHeader, byte hopLimit)
    {
        EthernetFrame.SetEtherType(frame, EtherType.Ipv6);
        int length = Ipv6Frame.TransportLength(frame);
        new Ipv6Repr(src, dst, nextHeader, length, hopLimit).Emit(Ipv6Frame.Ipv6Header(frame));
        if (nextHeader == Ipv6NextHeader.Icmpv6) Icmpv6Packet.FillChecksum(Ipv6Frame.Transport(frame), src, dst);
    }

    /// <summary>The interface and next hop towards <paramref name="dst"/>: on-link destinations directly, the rest
    /// through a default router. Link-local and multicast destinations go out of the first IPv6 interface.</summary>
    internal (NetInterface Nic, Ipv6Address NextHop)? RouteTo(Ipv6Address dst)
    {
        NetInterface? viaRouter = null;
        foreach (var nic in _stack.InterfacesUnlocked)
        {
            var v6 = nic.Ipv6;
            if (!v6.Enabled || !nic.IsUp) continue;
            if (v6.IsOnLink(dst)) return (nic, dst);
            if (viaRouter is null && v6.DefaultRouter is not null) viaRouter = nic;
        }
        return viaRouter is { } r ? (r, r.Ipv6.DefaultRouter!.Value) : null;
    }

    internal Ipv6Address? SourceFor(Ipv6Address dst) => RouteTo(dst) is { } r ? r.Nic.Ipv6.SourceFor(dst) : null;

    /// <summary>Sends a datagram whose upper-layer message is at <see cref="Ipv6Frame.TransportAt"/> of
    /// <paramref name="frame"/>, fragmenting it when it exceeds the path MTU (only the source fragments in IPv6).
    /// Returns false when there is no route or no usable source.</summary>
    /// <remarks>A frame with a segmentation <paramref name="offload"/> may exceed the path MTU: the NIC cuts it into
    /// segments of its segment size (TSO6), which the sender chose within the path MTU.</remarks>
    /// <summary>As <see cref="Send(Ipv6Address?, Ipv6Address, byte, byte[], byte, TxOffload)"/>, with the transport
    /// payload's tail after <paramref name="frame"/> by reference (TCP on a device that gathers). It goes along only to
    /// a unicast neighbour whose address is known, in one packet; anything else copies the frame whole first.</summary>
    internal bool Send(Ipv6Address? source, Ipv6Address dst, byte nextHeader, byte[] frame, TxPayload payload, TxOffload offload)
    {
        if (payload.IsEmpty) return Send(source, dst, nextHeader, frame, 0, offload);
        if (RouteTo(dst) is not { } route || dst.IsMulticast || (route.Nic.Offloads & NetworkOffloads.ScatterGather) == 0
            || !route.Nic.Ipv6.Neighbours.CanSendNow(route.NextHop)
            || (source ?? route.Nic.Ipv6.SourceFor(dst)) is not { } src)
            return Send(source, dst, nextHeader, payload.Materialize(frame), 0, offload);
        var nic = route.Nic;
        int transportLength = Ipv6Frame.TransportLength(frame) + payload.Length;
        int mtu = PathMtu(nic, dst);
        bool segmentedByNic = offload.SegmentSize != 0 && offload.Ipv6 && (nic.Offloads & NetworkOffloads.Tcp6Segmentation) != 0
            && transportLength <= ushort.MaxValue
            && offload.HeaderLength - EthernetFrame.HeaderLength + offload.SegmentSize <= mtu;
        if (Ipv6Packet.HeaderLength + transportLength > mtu && !segmentedByNic)
            return Send(source, dst, nextHeader, payload.Materialize(frame), 0, offload);
        EthernetFrame.SetEtherType(frame, EtherType.Ipv6);
        new Ipv6Repr(src, dst, nextHeader, transportLength, nic.Ipv6.HopLimit).Emit(Ipv6Frame.Ipv6Header(frame));
        nic.Ipv6.Neighbours.Send(route.NextHop, frame, _stack.Now,
            segmentedByNic || offload.SegmentSize == 0 ? offload : offload with { SegmentSize = 0, HeaderLength = 0, Ipv6 = false }, payload);
        return true;
    }

    public bool Send(Ipv6Address? source, Ipv6Address dst, byte nextHeader, byte[] frame, byte hopLimit = 0, TxOffload offload = default)
    {
        if (RouteTo(dst) is not { } route) { _stack.Count(DropReason.NoRoute); return false; }
        var (nic, nextHop) = route;
        var v6 = nic.Ipv6;
        if ((source ?? v6.SourceFor(dst)) is not { } src) { _stack.Count(DropReason.NoRoute); return false; }
        if (hopLimit == 0) hopLimit = v6.HopLimit;
        int mtu = PathMtu(nic, dst);
        bool segmentedByNic = offload.SegmentSize != 0 && offload.Ipv6 && (nic.Offloads & NetworkOffloads.Tcp6Segmentation) != 0
            && Ipv6Frame.TransportLength(frame) <= ushort.MaxValue
            && offload.HeaderLength - EthernetFrame.HeaderLength + offload.SegmentSize <= mtu; // each cut packet fits the path
        if (Ipv6Packet.HeaderLength + Ipv6Frame.TransportLength(frame) <= mtu || segmentedByNic)
        {
            Fill(frame, src, dst, nextHeader, hopLimit);
            Transmit(nic, nextHop, dst, frame, segmentedByNic || offload.SegmentSize == 0 ? offload : offload with { SegmentSize = 0, HeaderLength = 0, Ipv6 = false });
            return true;
        }
        if (!offload.IsNone && nextHeader == Ipv6NextHeader.Tcp)
        {
            // A partial checksum cannot be fragmented (the NIC would finish it per fragment): finish it here first.
            TcpRepr.FinishPartialChecksum(Ipv6Frame.Transport(frame));
        }
        if (nextHeader == Ipv6NextHeader.Icmpv6) Icmpv6Packet.FillChecksum(Ipv6Frame.Transport(frame), src, dst);
        var whole = Ipv6Frame.Transport(frame);
        int chunk = (mtu - Ipv6Packet.HeaderLength - Ipv6FragmentHeader.Length) & ~7;
        uint id = _nextFragmentId++;
        for (int offset = 0; offset < whole.Length; offset += chunk)
        {
            int len = Math.Min(chunk, whole.Length - offset);
            var piece = Ipv6Frame.New(Ipv6FragmentHeader.Length + len);
            var body = Ipv6Frame.Transport(piece);
            Ipv6FragmentHeader.Emit(body, nextHeader, offset, offset + len < whole.Length, id);
            whole.Slice(offset, len).CopyTo(body[Ipv6FragmentHeader.Length..]);
            EthernetFrame.SetEtherType(piece, EtherType.Ipv6);
            new Ipv6Repr(src, dst, Ipv6NextHeader.Fragment, body.Length, hopLimit).Emit(Ipv6Frame.Ipv6Header(piece));
            Transmit(nic, nextHop, dst, piece);
            _stack.Count(Counter.Fragmented);
        }
        return true;
    }

    /// <summary>The MTU towards <paramref name="dst"/>: the link's, or less where a Packet Too Big said so.</summary>
    internal int PathMtu(NetInterface nic, Ipv6Address dst) => Math.Min(nic.Ipv6.Mtu, Icmp.PathMtuFor(dst) ?? int.MaxValue);

    private void Transmit(NetInterface nic, Ipv6Address nextHop, Ipv6Address dst, byte[] frame, TxOffload offload = default)
    {
        if (dst.IsMulticast) nic.Ipv6.TransmitTo(dst.MulticastMac(), frame, offload);
        else nic.Ipv6.Neighbours.Send(nextHop, frame, _stack.Now, offload);
    }
}
