using Photon.Kernel.Hal;
using Photon.Net.Device;
using Photon.Net.Wire;

namespace Photon.Net;

/// <summary>
/// IPv4 (RFC 791) input and output: validation through <see cref="Ipv4Packet"/>, fragment reassembly, delivery to ICMP,
/// UDP and TCP, forwarding with TTL and ICMP time exceeded, and on output the header in place plus fragmentation of
/// datagrams larger than the interface MTU. Runs under the stack's lock.
/// </summary>
internal sealed class Ipv4Layer
{
    private readonly NetworkStack _stack;
    private readonly Ipv4Reassembler _reassembler;
    private ushort _nextId = (ushort)Random.Shared.Next();

    public Ipv4Layer(NetworkStack stack)
    {
        _stack = stack;
        _reassembler = new Ipv4Reassembler(stack);
    }

    public void Tick(TimeSpan now) => _reassembler.Tick(now);

    internal long ReassemblyBytesHeld => _reassembler.BytesHeld;

    internal int ReassembliesInProgress => _reassembler.InProgress;

    /// <summary>
    /// Source addresses no honest sender on the wire uses (RFC 1812 §5.3.7, Linux's martian filter): "this network"
    /// 0.0.0.0/8, loopback, multicast and the reserved 240/4 (with limited broadcast), the subnet's broadcast, and this
    /// stack's own addresses (a LAND attack: a SYN from ourselves to ourselves would be answered to ourselves).
    /// </summary>
    private bool IsMartianSource(NetInterface nic, Ipv4Address src)
    {
        uint first = src.Value >> 24;
        return first == 0 || first == 127 || src.Value >> 28 >= 0xE || src == nic.Cidr.DirectedBroadcast || _stack.IsLocalAddress(src);
    }

    public void Handle(NetInterface nic, ReadOnlySpan<byte> buffer)
    {
        if (!Ipv4Packet.TryParse(buffer, out var ip, out var why)) { _stack.Count(why); return; }
        var src = ip.Source;
        var dst = ip.Destination;
        if (IsMartianSource(nic, src)) { _stack.Count(DropReason.MartianSource); return; }
        if (!nic.AcceptsDestination(dst) && !_stack.IsLocalAddress(dst))
        {
            if (_stack.Options.Forwarding) Forward(ip);
            else _stack.Count(DropReason.NotForUs);
            return;
        }
        ReadOnlySpan<byte> payload = ip.Payload;
        if (ip.IsFragment)
        {
            var whole = _reassembler.Add(src, dst, ip.Protocol, ip.Identification, ip.FragmentOffset, ip.MoreFragments, payload, _stack.Now);
            if (whole is null) return;
            payload = whole;
        }
        bool broadcast = dst == Ipv4Address.Broadcast || dst == nic.Cidr.DirectedBroadcast;
        switch (ip.Protocol)
        {
            case IpProtocol.Icmp: _stack.Icmp.Handle(src, dst, payload, broadcast); break;
            case IpProtocol.Udp: _stack.Udp.Handle(src, dst, payload, broadcast); break;
            case IpProtocol.Tcp:
                if (broadcast) { _stack.Count(DropReason.NotForUs); break; }
                _stack.Tcp.Handle(src, dst, payload, checksumVerified: _stack.RxChecksumVerified && !ip.IsFragment);
                break;
            default: _stack.Count(DropReason.UnsupportedProtocol); break;
        }
    }

    /// <summary>Router path: decrement TTL (ICMP time exceeded when it runs out) and send on by the routing table.</summary>
    private void Forward(in Ipv4Packet ip)
    {
        if (ip.Ttl <= 1)
        {
            _stack.Count(DropReason.TtlExpired);
            _stack.Icmp.SendError(IcmpType.TimeExceeded, 0, ip.Source, ip.Bytes);
            return;
        }
        if (_stack.RouteTo(ip.Destination) is not { } route)
        {
            _stack.Count(DropReason.NoRoute);
            _stack.Icmp.SendError(IcmpType.DestinationUnreachable, IcmpType.NetUnreachable, ip.Source, ip.Bytes);
            return;
        }
        if (ip.Bytes.Length > route.Nic.Mtu) { _stack.Count(DropReason.BadLength); return; }
        var frame = new byte[EthernetFrame.HeaderLength + ip.Bytes.Length];
        EthernetFrame.SetEtherType(frame, EtherType.Ipv4);
        var packet = EthernetFrame.PayloadOf(frame);
        ip.Bytes.CopyTo(packet);
        Ipv4Packet.DecrementTtl(packet);
        route.Nic.SendToNextHop(route.NextHop, frame, _stack.Now);
        _stack.Count(Counter.Forwarded);
    }

    /// <summary>Fills in the IPv4 and Ethernet headers of a frame from <see cref="Ipv4Frame.New"/> and sends it
    /// (fragmenting if it exceeds the interface MTU). Returns false when there is no route or it may not be fragmented.</summary>
    /// <remarks>A frame with a segmentation <paramref name="offload"/> may exceed the MTU: the NIC cuts it up (TSO).</remarks>
    public bool Send(Ipv4Address source, Ipv4Address destination, byte protocol, byte[] frame, byte ttl = 0, bool dontFragment = false,
        TxOffload offload = default) => Send(source, destination, protocol, frame, default, ttl, dontFragment, offload);

    /// <summary>As above, with the transport payload's tail after <paramref name="frame"/> by reference (TCP on a device
    /// that gathers): the IPv4 header counts it, and the interface sends it along or copies the frame whole.</summary>
    internal bool Send(Ipv4Address source, Ipv4Address destination, byte protocol, byte[] frame, TxPayload payload, byte ttl = 0,
        bool dontFragment = false, TxOffload offload = default)
    {
        if (_stack.RouteTo(destination) is not { } route) { _stack.Count(DropReason.NoRoute); return false; }
        var (nic, nextHop) = route;
        int transportLength = Ipv4Frame.TransportLength(frame) + payload.Length;
        ushort id = _nextId++;
        if (ttl == 0) ttl = _stack.Options.DefaultTtl;
        bool segmentedByNic = offload.SegmentSize != 0 && (nic.Offloads & NetworkOffloads.TcpSegmentation) != 0
            && Ipv4Packet.HeaderLength + transportLength <= ushort.MaxValue;
        if (Ipv4Packet.HeaderLength + transportLength <= nic.Mtu || segmentedByNic)
        {
            EthernetFrame.SetEtherType(frame, EtherType.Ipv4);
            new Ipv4Repr(source, destination, protocol, transportLength, ttl, id, dontFragment).Emit(Ipv4Frame.Ipv4Header(frame));
            nic.SendToNextHop(nextHop, frame, _stack.Now, offload, payload);
            return true;
        }
        if (dontFragment) { _stack.Count(DropReason.TooBigToSend); return false; }
        if (!payload.IsEmpty) frame = payload.Materialize(frame);
        int chunk = (nic.Mtu - Ipv4Packet.HeaderLength) & ~7; // fragment offsets count 8-byte units
        var whole = Ipv4Frame.Transport(frame);
        for (int offset = 0; offset < transportLength; offset += chunk)
        {
            int len = Math.Min(chunk, transportLength - offset);
            var piece = Ipv4Frame.New(len);
            whole.Slice(offset, len).CopyTo(Ipv4Frame.Transport(piece));
            EthernetFrame.SetEtherType(piece, EtherType.Ipv4);
            new Ipv4Repr(source, destination, protocol, len, ttl, id, false, offset + len < transportLength, offset).Emit(Ipv4Frame.Ipv4Header(piece));
            nic.SendToNextHop(nextHop, piece, _stack.Now);
            _stack.Count(Counter.Fragmented);
        }
        return true;
    }
}
