using Photon.Net.Wire;

namespace Photon.Net;

/// <summary>
/// ICMPv6 (RFC 4443): echo replies and our own echo requests (<see cref="NetworkStack.Ping6Async"/>), Neighbor
/// Discovery handed to the interface, Packet Too Big into a bounded path-MTU table (RFC 8201), and errors about packets
/// we received — never about an error, a packet to a multicast group (but for the §2.4 (e) exceptions) or from an
/// address that is not a unicast one, and rate-limited like ICMP for IPv4 (<see cref="IcmpRateLimiter{TDestination}"/>).
/// Runs under the stack's lock except for the ping wait.
/// </summary>
internal sealed class Icmpv6Layer(NetworkStack stack)
{
    private const ushort PingIdentifier = 0x5036; // "P6"
    /// <summary>An error quotes as much of the offending packet as fits in the minimum MTU (RFC 4443 §2.4 (c)).</summary>
    private const int MaxQuote = Ipv6Packet.MinimumMtu - Ipv6Packet.HeaderLength - Icmpv6Packet.HeaderLength;
    /// <summary>Path MTUs remembered at most, and for how long (RFC 8201 §4: at least 5 minutes, 10 suggested).</summary>
    internal const int MaxPathMtuEntries = 256;
    internal static readonly TimeSpan PathMtuLifetime = TimeSpan.FromMinutes(10);

    private readonly Dictionary<(ushort Id, ushort Seq), TaskCompletionSource<TimeSpan>> _pings = new();
    private readonly Dictionary<Ipv6Address, (int Mtu, TimeSpan Until)> _pathMtu = new();
    private ushort _pingSeq;
    private readonly IcmpRateLimiter<Ipv6Address> _errorLimiter = new(stack.Options);

    public void Handle(NetInterface nic, Ipv6Address src, Ipv6Address dst, byte hopLimit, ReadOnlySpan<byte> buffer)
    {
        if (!Icmpv6Packet.TryParse(buffer, src, dst, out var m, out var why)) { stack.Count(why); return; }
        if (NdpMessage.IsNdp(m.Type))
        {
            if (!NdpMessage.TryParse(m.Bytes, src, dst, hopLimit, out var ndp, out why)) { stack.Count(why); return; }
            nic.Ipv6.HandleNdp(ndp!, src, dst, stack.Now);
            return;
        }
        if (src.IsUnspecified) { stack.Count(DropReason.MartianSource); return; } // only DAD and RS may come from ::
        switch (m.Type)
        {
            case Icmpv6Type.EchoRequest when !dst.IsMulticast:
                var frame = Ipv6Frame.New(m.Bytes.Length);
                Icmpv6Packet.EmitEcho(Ipv6Frame.Transport(frame), Icmpv6Type.EchoReply, m.Identifier, m.SequenceNumber, m.Data);
                if (stack.Ipv6.Send(dst, src, Ipv6NextHeader.Icmpv6, frame)) stack.Count(Counter.EchoRepliesSent);
                break;
            case Icmpv6Type.EchoReply:
                if (_pings.Remove((m.Identifier, m.SequenceNumber), out var waiter)) waiter.TrySetResult(stack.Now);
                break;
            case Icmpv6Type.PacketTooBig:
                OnPacketTooBig(m.Word, m.Data);
                break;
            default:
                stack.Count(DropReason.UnsupportedProtocol);
                break;
        }
    }

    /// <summary>Packet Too Big (RFC 8201): believed only when it quotes a packet we could have sent (from one of our
    /// addresses), lowers the path MTU only, never below 1280, and the table is bounded (the soonest to expire goes).</summary>
    private void OnPacketTooBig(uint mtu, ReadOnlySpan<byte> quote)
    {
        if (!Ipv6Packet.TryParseQuote(quote, out var ip) || !stack.IsLocalIpv6Address(ip.Source)) { stack.Count(DropReason.BadHeader); return; }
        var dst = ip.Destination;
        int newMtu = (int)Math.Clamp(mtu, Ipv6Packet.MinimumMtu, int.MaxValue);
        int current = PathMtuFor(dst) ?? int.MaxValue;
        if (newMtu >= current) return;
        var now = stack.Now;
        if (!_pathMtu.ContainsKey(dst) && _pathMtu.Count >= MaxPathMtuEntries)
            _pathMtu.Remove(_pathMtu.MinBy(kv => kv.Value.Until).Key);
        _pathMtu[dst] = (newMtu, now + PathMtuLifetime);
        stack.Tcp.OnPathMtuLowered(dst);
    }

    internal int? PathMtuFor(Ipv6Address dst) =>
        _pathMtu.TryGetValue(dst, out var e) && stack.Now < e.Until ? e.Mtu : null;

    /// <summary>Sends an ICMPv6 error about <paramref name="offending"/> (received on <paramref name="nic"/>, addressed to
    /// <paramref name="offendingDestination"/>), applying the rules of RFC 4443 §2.4 (e) and the rate limit.</summary>
    public void SendError(NetInterface nic, byte type, byte code, uint word, ReadOnlySpan<byte> offending, Ipv6Address offendingDestination,
        bool toMulticastAllowed)
    {
        if (!Ipv6Packet.TryParseQuote(offending, out var ip)) return;
        var to = ip.Source;
        if (to.IsUnspecified || to.IsMulticast) return;
        if (offendingDestination.IsMulticast && !toMulticastAllowed && type != Icmpv6Type.PacketTooBig) return;
        if (ip.NextHeader == Ipv6NextHeader.Icmpv6 && ip.Payload.Length > 0 && Icmpv6Type.IsError(ip.Payload[0])) return;
        if (!_errorLimiter.TryTake(to, stack.Now)) { stack.Count(Counter.IcmpErrorsRateLimited); return; }
        // Reply from the address the packet was sent to when it is ours, else from our best source towards the sender.
        Ipv6Address? source = nic.Ipv6.IsAssigned(offendingDestination) ? offendingDestination : null;
        int quote = Math.Min(offending.Length, MaxQuote);
        var frame = Ipv6Frame.New(Icmpv6Packet.HeaderLength + quote);
        Icmpv6Packet.EmitError(Ipv6Frame.Transport(frame), type, code, word, offending[..quote]);
        if (stack.Ipv6.Send(source, to, Ipv6NextHeader.Icmpv6, frame)) stack.Count(Counter.Icmpv6ErrorsSent);
    }

    /// <summary>Sends an echo request and waits for the reply; returns the round-trip time.</summary>
    public async Task<Result<TimeSpan>> PingAsync(Ipv6Address target, TimeSpan timeout, int payloadSize, CancellationToken ct)
    {
        const int maxPayload = Ipv6Packet.MaxPayloadLength - Icmpv6Packet.HeaderLength;
        if (payloadSize is < 0 or > maxPayload) return Errors.Of(ErrorCode.InvalidArgument, $"ping payload must be 0..{maxPayload} bytes");
        if (target.IsUnspecified || target.IsMulticast) return Errors.Of(ErrorCode.InvalidArgument, $"cannot ping {target}");
        var reply = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        (ushort, ushort) key;
        TimeSpan start;
        lock (stack.Gate)
        {
            key = (PingIdentifier, ++_pingSeq);
            if (stack.Ipv6.SourceFor(target) is null) return Errors.Of(ErrorCode.Unreachable, $"no route to {target}");
            var frame = Ipv6Frame.New(Icmpv6Packet.HeaderLength + payloadSize);
            var data = Ipv6Frame.Transport(frame)[Icmpv6Packet.HeaderLength..];
            for (int i = 0; i < data.Length; i++) data[i] = (byte)(i + Icmpv6Packet.HeaderLength);
            Icmpv6Packet.EmitEcho(Ipv6Frame.Transport(frame), Icmpv6Type.EchoRequest, key.Item1, key.Item2, data);
            _pings[key] = reply;
            start = stack.Now;
            stack.Ipv6.Send(null, target, Ipv6NextHeader.Icmpv6, frame);
        }
        await stack.FlushAsync().ConfigureAwait(false);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            var timer = stack.Timers.Delay(timeout, cancel.Token);
            if (await Task.WhenAny(reply.Task, timer).ConfigureAwait(false) != reply.Task)
                return Errors.Of(ErrorCode.TimedOut, $"no echo reply from {target} within {timeout.TotalMilliseconds:0} ms");
            return await reply.Task.ConfigureAwait(false) - start;
        }
        finally
        {
            cancel.Cancel();
            lock (stack.Gate) _pings.Remove(key);
        }
    }
}
