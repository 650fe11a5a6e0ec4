using Photon.Net.Wire;

namespace Photon.Net.Udp;

/// <summary>UDP over IPv6: the same port table as IPv4, so a bound socket is dual-stack and the port grant that allowed
/// the bind covers both families. Datagrams from IPv6 peers carry <see cref="UdpDatagram.From6"/>.</summary>
public sealed partial class UdpLayer
{
    internal void Handle6(NetInterface nic, Ipv6Address src, Ipv6Address dst, ReadOnlySpan<byte> buffer, ReadOnlySpan<byte> original)
    {
        if (!UdpPacket.TryParse(buffer, src, dst, out var u, out var why)) { _stack.Count(why); return; }
        _stack.Count(Counter.UdpDatagramsIn);
        if (!_sockets.TryGetValue(u.DestinationPort, out var socket))
        {
            _stack.Count(DropReason.NoSocket);
            if (!dst.IsMulticast && !original.IsEmpty)
                _stack.Ipv6.Icmp.SendError(nic, Icmpv6Type.DestinationUnreachable, Icmpv6Type.PortUnreachable, 0, original, dst, false);
            return;
        }
        socket.Deliver(new UdpDatagram(new IpEndpoint(Ipv4Address.Any, u.SourcePort), new IpEndpoint(Ipv4Address.Any, u.DestinationPort), u.Payload.ToArray())
        {
            From6 = new Ip6Endpoint(src, u.SourcePort),
            To6 = new Ip6Endpoint(dst, u.DestinationPort),
        });
    }

    internal Result Send6(ushort sourcePort, Ip6Endpoint to, ReadOnlySpan<byte> data)
    {
        const int maxPayload = Ipv6Packet.MaxPayloadLength - UdpPacket.HeaderLength;
        if (data.Length > maxPayload) return Errors.Of(ErrorCode.InvalidArgument, $"a UDP datagram over IPv6 carries at most {maxPayload:N0} bytes");
        if (to.Port == 0 || to.Address.IsUnspecified) return Errors.Of(ErrorCode.InvalidArgument, $"cannot send to {to}");
        if (_stack.Ipv6.SourceFor(to.Address) is not { } source) return Errors.Of(ErrorCode.Unreachable, $"no route to {to.Address}");
        var frame = Ipv6Frame.New(UdpPacket.HeaderLength + data.Length);
        UdpPacket.Emit(Ipv6Frame.Transport(frame), sourcePort, to.Port, data, source, to.Address);
        if (!_stack.Ipv6.Send(source, to.Address, Ipv6NextHeader.Udp, frame)) return Errors.Of(ErrorCode.Unreachable, $"no route to {to.Address}");
        _stack.Count(Counter.UdpDatagramsOut);
        return Result.Ok;
    }
}

public sealed partial class UdpSocket
{
    /// <summary>Sends a datagram to an IPv6 peer from this socket's port.</summary>
    public async Task<Result> SendToAsync(Ip6Endpoint to, ReadOnlyMemory<byte> data)
    {
        Result r;
        lock (_stack.Gate) r = _closed ? Errors.Of(ErrorCode.Closed, "socket closed") : _layer.Send6(Port, to, data.Span);
        await _stack.FlushAsync().ConfigureAwait(false);
        return r;
    }
}
