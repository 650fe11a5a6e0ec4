using Photon.Kernel.Scheduling;
using Photon.Net.Wire;

namespace Photon.Net;

/// <summary>
/// ICMP (RFC 792): echo replies, echo requests with their waiters (<see cref="NetworkStack.PingAsync"/>), destination
/// unreachable handed to TCP, and errors about our own traffic's peers — never an error about an ICMP error or to a
/// broadcast, so two stacks cannot bounce errors forever, and errors rate-limited (<see cref="IcmpRateLimiter"/>). Runs under the stack's lock except for the ping wait.
/// </summary>
internal sealed class IcmpLayer(NetworkStack stack, IKernelTimers timers)
{
    private const ushort PingIdentifier = 0x5048; // "PH"
    private readonly Dictionary<(ushort Id, ushort Seq), TaskCompletionSource<TimeSpan>> _pings = new();
    private ushort _pingSeq;
    private readonly IcmpRateLimiter _errorLimiter = new(stack.Options);

    internal int RateLimitedDestinations => _errorLimiter.TrackedDestinations;

    public void Handle(Ipv4Address src, Ipv4Address dst, ReadOnlySpan<byte> buffer, bool broadcast)
    {
        if (!IcmpPacket.TryParse(buffer, out var m, out var why)) { stack.Count(why); return; }
        switch (m.Type)
        {
            case IcmpType.EchoRequest when !broadcast:
                var frame = Ipv4Frame.New(m.Bytes.Length);
                IcmpPacket.EmitEcho(Ipv4Frame.Transport(frame), IcmpType.EchoReply, m.Identifier, m.SequenceNumber, m.Data);
                if (stack.Ipv4.Send(dst, src, IpProtocol.Icmp, frame)) stack.Count(Counter.EchoRepliesSent);
                break;
            case IcmpType.EchoReply:
                if (_pings.Remove((m.Identifier, m.SequenceNumber), out var waiter)) waiter.TrySetResult(stack.Now);
                break;
            case IcmpType.DestinationUnreachable when Ipv4Packet.TryParseQuote(m.Data, out var quoted):
                if (quoted.Protocol == IpProtocol.Tcp) stack.Tcp.HandleUnreachable(quoted);
                break;
            default:
                stack.Count(DropReason.UnsupportedProtocol);
                break;
        }
    }

    /// <summary>Sends an ICMP error quoting the offending header plus 8 bytes (RFC 792).</summary>
    public void SendError(byte type, byte code, Ipv4Address to, ReadOnlySpan<byte> offending)
    {
        if (!Ipv4Packet.TryParseQuote(offending, out var ip)) return;
        if (ip.Protocol == IpProtocol.Icmp && IcmpPacket.TryPeekType(ip.Payload, out var quotedType) && IcmpType.IsError(quotedType)) return;
        if (to == Ipv4Address.Broadcast || stack.SourceFor(to) is not { } source) return;
        if (!_errorLimiter.TryTake(to, stack.Now)) { stack.Count(Counter.IcmpErrorsRateLimited); return; }
        int quote = Math.Min(offending.Length, ip.HeaderBytes + UdpPacket.QuotedBytes);
        var frame = Ipv4Frame.New(IcmpPacket.HeaderLength + quote);
        IcmpPacket.EmitError(Ipv4Frame.Transport(frame), type, code, offending[..quote]);
        stack.Ipv4.Send(source, to, IpProtocol.Icmp, frame);
    }

    /// <summary>Sends an ICMP echo request and waits for the reply; returns the round-trip time.</summary>
    public async Task<Result<TimeSpan>> PingAsync(Ipv4Address target, TimeSpan timeout, int payloadSize, CancellationToken ct)
    {
        const int maxPayload = Ipv4Packet.MaxLength - Ipv4Packet.HeaderLength - IcmpPacket.HeaderLength;
        if (payloadSize is < 0 or > maxPayload) return Errors.Of(ErrorCode.InvalidArgument, $"ping payload must be 0..{maxPayload} bytes");
        var reply = new TaskCompletionSource<TimeSpan>(TaskCreationOptions.RunContinuationsAsynchronously);
        (ushort, ushort) key;
        TimeSpan start;
        lock (stack.Gate)
        {
            key = (PingIdentifier, ++_pingSeq);
            if (stack.SourceFor(target) is not { } source) return Errors.Of(ErrorCode.Unreachable, $"no route to {target}");
            var frame = Ipv4Frame.New(IcmpPacket.HeaderLength + payloadSize);
            var data = Ipv4Frame.Transport(frame)[IcmpPacket.HeaderLength..];
            for (int i = 0; i < data.Length; i++) data[i] = (byte)(i + IcmpPacket.HeaderLength);
            IcmpPacket.EmitEcho(Ipv4Frame.Transport(frame), IcmpType.EchoRequest, key.Item1, key.Item2, data);
            _pings[key] = reply;
            start = stack.Now;
            stack.Ipv4.Send(source, target, IpProtocol.Icmp, frame);
        }
        await stack.FlushAsync().ConfigureAwait(false);
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            var timer = timers.Delay(timeout, cancel.Token);
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
