using Photon.Net.Wire;

namespace Photon.Net.Udp;

/// <summary>UDP over IPv6: the same port table as IPv4, so a bound socket is dual-stack and the port grant that allowed
/// the bind covers both families. Datagrams from IPv6 peers carry IPv6 endpoints, and sending to one goes out here.</summary>
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
        socket.Deliver(new IpEndpoint(src, u.SourcePort), new IpEndpoint(dst, u.DestinationPort), u.Payload);
    }

    private Result Send6(ushort sourcePort, IpEndpoint to, ReadOnlySpan<byte> data)
    {
        const int maxPayload = Ipv6Packet.MaxPayloadLength - UdpPacket.HeaderLength;
        if (data.Length > maxPayload) return Errors.Of(ErrorCode.InvalidArgument, $"a UDP datagram over IPv6 carries at most {maxPayload:N0} bytes");
        var dst = to.Address.V6;
        if (to.Port == 0 || dst.IsUnspecified || dst.IsIpv4Mapped) return Errors.Of(ErrorCode.InvalidArgument, $"cannot send to {to}");
        if (_stack.Ipv6.SourceFor(dst) is not { } source) return Errors.Of(ErrorCode.Unreachable, $"no route to {to.Address}");
        var frame = Ipv6Frame.New(UdpPacket.HeaderLength + data.Length);
        UdpPacket.Emit(Ipv6Frame.Transport(frame), sourcePort, to.Port, data, source, dst);
        if (!_stack.Ipv6.Send(source, dst, Ipv6NextHeader.Udp, frame)) return Errors.Of(ErrorCode.Unreachable, $"no route to {to.Address}");
        _stack.Count(Counter.UdpDatagramsOut);
        return Result.Ok;
    }
}
