using Photon.Kernel.Hal;
using Photon.Net.Device;
using Photon.Net.Wire;

namespace Photon.Net.Tcp;

/// <summary>What TCP does differently per IP family: which addresses may be an endpoint, the source towards a peer, the
/// MSS a route allows, and output over IPv6. Everything else is family-blind.</summary>
public sealed partial class TcpLayer
{
    /// <summary>The largest IPv6 MSS every path must carry: RFC 8200's 1,280-byte minimum MTU less both headers.</summary>
    internal const int MinIpv6Mss = Ipv6Packet.MinimumMtu - Ipv6Packet.HeaderLength - TcpRepr.MinHeaderLength;

    private readonly IcmpRateLimiter<IpAddress> _closedPortResets;

    /// <summary>A usable TCP endpoint address: never unspecified, multicast or broadcast; over IPv6 never v4-mapped (an
    /// IPv4 peer is an IPv4 address here, RFC 4291 §2.5.5.2).</summary>
    internal static bool IsUnicast(IpAddress a) => a.IsV6
        ? !a.IsUnspecified && !a.V6.IsMulticast && !a.V6.IsIpv4Mapped
        : !a.IsUnspecified && a.V4 != Ipv4Address.Broadcast && !a.V4.IsMulticast;

    private IpAddress? SourceFor(IpAddress remote) => remote.IsV6
        ? _stack.Ipv6.SourceFor(remote.V6) is { } s6 ? s6 : null
        : _stack.SourceFor(remote.V4) is { } s4 ? s4 : null;

    /// <summary>The MSS we can take from and send to <paramref name="remote"/>: the route's MTU (over IPv6 the path MTU a
    /// validated Packet Too Big lowered, never below RFC 8200's 1,280) less the IP and TCP headers.</summary>
    internal int RouteMss(IpEndpoint remote)
    {
        if (!remote.Address.IsV6)
            return (_stack.RouteTo(remote.Address.V4)?.Nic.Mtu ?? 1500) - Ipv4Packet.HeaderLength - TcpRepr.MinHeaderLength;
        var v6 = remote.Address.V6;
        int mtu = _stack.Ipv6.RouteTo(v6) is { } route ? _stack.Ipv6.PathMtu(route.Nic, v6) : Ipv6Packet.MinimumMtu;
        return Math.Max(mtu - Ipv6Packet.HeaderLength - TcpRepr.MinHeaderLength, MinIpv6Mss);
    }

    /// <summary>A validated Packet Too Big lowered the path MTU to <paramref name="destination"/> (RFC 8201 §4): its
    /// connections cut their segments to the new MSS from the next one sent (the lost segment goes again on the
    /// retransmission timer).</summary>
    internal void OnPathMtuLowered(Ipv6Address destination)
    {
        foreach (var c in _connections.Values)
            if (c.Remote.Address.IsV6 && c.Remote.Address.V6 == destination) c.OnPathMtuLowered();
    }

    /// <summary>Output over IPv6, as over IPv4: on a NIC with checksum offload the checksum is left partial over the IPv6
    /// pseudo-header for the NIC to finish, and with <paramref name="segmentSize"/> set (the caller checked the NIC does
    /// TSO6) a payload larger than it goes as one segment the NIC cuts (gso_type TCPV6); else the checksum in software.
    /// Then the IPv6 layer routes, resolves the neighbour and sends.</summary>
    private void Send6(IpEndpoint local, IpEndpoint remote, TcpRepr header, ByteRing? from, int fromOffset, int fromLength, int segmentSize)
    {
        int headerLength = header.HeaderLength;
        var offloads = _stack.Ipv6.RouteTo(remote.Address.V6)?.Nic.Offloads ?? NetworkOffloads.None;
        bool gather = from is not null && fromLength > 0 && (offloads & GatherWithChecksum) == GatherWithChecksum
            && from.CanGatherByReference(fromOffset, fromLength); // else (unleased lent bytes, or more than two pieces) copied into the frame
        var frame = gather ? Ipv6Frame.NewForPayload(headerLength, headerLength)
            : Ipv6Frame.NewForPayload(headerLength + fromLength, from is null ? headerLength + fromLength : headerLength);
        var segment = Ipv6Frame.Transport(frame);
        var payload = EmitOrLend(segment, header, from, fromOffset, fromLength, gather);
        TxOffload offload = default;
        if ((offloads & NetworkOffloads.TcpChecksum) != 0)
        {
            TcpRepr.FillPartialChecksum(segment, local.Address, remote.Address, headerLength + fromLength);
            bool tso = segmentSize > 0 && fromLength > segmentSize && (offloads & NetworkOffloads.Tcp6Segmentation) != 0;
            offload = new TxOffload((ushort)Ipv6Frame.TransportAt, TcpRepr.ChecksumOffset,
                tso ? (ushort)segmentSize : (ushort)0, tso ? (ushort)(Ipv6Frame.TransportAt + headerLength) : (ushort)0, Ipv6: tso);
            _stack.Count(Counter.TcpChecksumsOffloaded);
            if (tso) _stack.Count(Counter.TcpSegmentationOffloads);
        }
        else
        {
            TcpRepr.FillChecksum(segment, local.Address, remote.Address);
            _stack.Count(Counter.TcpChecksumBytesSoftware, segment.Length);
        }
        if (_stack.Ipv6.Send(local.Address.V6, remote.Address.V6, Ipv6NextHeader.Tcp, frame, payload, offload)) _stack.Count(Counter.TcpSegmentsOut);
    }
}
