using System.Security.Cryptography;
using Photon.Net.Sockets;
using Photon.Net.Wire;

namespace Photon.Net.Udp;

/// <summary>A received datagram; <see cref="From"/> and <see cref="To"/> are of the family it came over.</summary>
public sealed record UdpDatagram(IpEndpoint From, IpEndpoint To, byte[] Data);

/// <summary>UDP (RFC 768): port demultiplexing, checksums (verified when present), ICMP port unreachable for closed
/// ports; each socket's receive queue is bounded and charged to its tenant (<see cref="UdpSocket"/>).</summary>
public sealed partial class UdpLayer
{
    private readonly NetworkStack _stack;
    private readonly Dictionary<ushort, UdpSocket> _sockets = new();
    private int _nextEphemeral = Random.Shared.Next(49152, 65536);

    internal UdpLayer(NetworkStack stack) => _stack = stack;

    /// <summary>Binds <paramref name="port"/> (0 picks an ephemeral port). The socket layer checks the capability first.</summary>
    public Result<UdpSocket> Bind(ushort port) => Bind(port, null);

    /// <summary>Binds for a tenant: datagrams queued for the socket are charged to <paramref name="account"/>'s memory
    /// quota (null: the kernel's, uncharged but still bounded per socket).</summary>
    internal Result<UdpSocket> Bind(ushort port, SocketAccount? account)
    {
        lock (_stack.Gate)
        {
            if (port == 0)
            {
                // RFC 6056 §3.3.1: random ephemeral ports, so an off-path spoofer (of DNS answers, say) must guess the
                // port as well as the query ID; a scan from a random start finds a free one when random picks keep missing.
                for (int i = 0; i < 64 && port == 0; i++)
                {
                    var candidate = (ushort)(49152 + RandomNumberGenerator.GetInt32(16384));
                    if (!_sockets.ContainsKey(candidate)) port = candidate;
                }
                for (int i = 0; i < 16384 && port == 0; i++)
                {
                    var candidate = (ushort)(49152 + (_nextEphemeral++ & 16383));
                    if (!_sockets.ContainsKey(candidate)) port = candidate;
                }
                if (port == 0) return Errors.Of(ErrorCode.AddressInUse, "no free ephemeral UDP port");
            }
            if (_sockets.ContainsKey(port)) return Errors.Of(ErrorCode.AddressInUse, $"UDP port {port} is bound");
            var s = new UdpSocket(this, _stack, port, account);
            _sockets[port] = s;
            return s;
        }
    }

    internal void Unbind(UdpSocket s)
    {
        lock (_stack.Gate) if (_sockets.TryGetValue(s.Port, out var bound) && bound == s) _sockets.Remove(s.Port);
    }

    public IReadOnlyList<UdpSocket> Sockets { get { lock (_stack.Gate) return _sockets.Values.ToList(); } }

    internal void Handle(Ipv4Address src, Ipv4Address dst, ReadOnlySpan<byte> buffer, bool broadcast)
    {
        if (!UdpPacket.TryParse(buffer, src, dst, out var u, out var why)) { _stack.Count(why); return; }
        _stack.Count(Counter.UdpDatagramsIn);
        if (!_sockets.TryGetValue(u.DestinationPort, out var socket))
        {
            _stack.Count(DropReason.NoSocket);
            if (!broadcast) QuoteUnreachable(src, dst, u.Bytes);
            return;
        }
        socket.Deliver(new IpEndpoint(src, u.SourcePort), new IpEndpoint(dst, u.DestinationPort), u.Payload);
    }

    private void QuoteUnreachable(Ipv4Address src, Ipv4Address dst, ReadOnlySpan<byte> datagram)
    {
        // Rebuild the offending IP header for the quote (RFC 792: header + first 8 bytes).
        Span<byte> quote = stackalloc byte[Ipv4Packet.HeaderLength + UdpPacket.QuotedBytes];
        new Ipv4Repr(src, dst, IpProtocol.Udp, datagram.Length, _stack.Options.DefaultTtl).Emit(quote);
        datagram[..UdpPacket.QuotedBytes].CopyTo(quote[Ipv4Packet.HeaderLength..]);
        _stack.Icmp.SendError(IcmpType.DestinationUnreachable, IcmpType.PortUnreachable, src, quote);
    }

    internal Result Send(ushort sourcePort, IpEndpoint to, ReadOnlySpan<byte> data)
    {
        if (to.Address.IsV6) return Send6(sourcePort, to, data);
        if (data.Length > UdpPacket.MaxPayload) return Errors.Of(ErrorCode.InvalidArgument, $"a UDP datagram carries at most {UdpPacket.MaxPayload:N0} bytes");
        if (to.Port == 0) return Errors.Of(ErrorCode.InvalidArgument, "destination port 0");
        var dst = to.Address.V4;
        if (_stack.SourceFor(dst) is not { } source) return Errors.Of(ErrorCode.Unreachable, $"no route to {to.Address}");
        var frame = Ipv4Frame.New(UdpPacket.HeaderLength + data.Length);
        UdpPacket.Emit(Ipv4Frame.Transport(frame), sourcePort, to.Port, data, source, dst);
        if (!_stack.Ipv4.Send(source, dst, IpProtocol.Udp, frame)) return Errors.Of(ErrorCode.Unreachable, $"no route to {to.Address}");
        _stack.Count(Counter.UdpDatagramsOut);
        return Result.Ok;
    }
}
