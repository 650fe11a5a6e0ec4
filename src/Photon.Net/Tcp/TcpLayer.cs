using System.Buffers.Binary;
using System.Security.Cryptography;
using Photon.Kernel.Hal;
using Photon.Net.Device;
using Photon.Net.Wire;

namespace Photon.Net.Tcp;

public sealed record TcpConnectionInfo(IpEndpoint Local, IpEndpoint Remote, TcpState State, int SendQueue, int ReceiveQueue,
    int CongestionWindow, TimeSpan SmoothedRtt, long Retransmits, TimeSpan RetransmitTimeout);

/// <summary>
/// TCP's demultiplexer: connections keyed by their four-tuple, listeners by port, ephemeral port allocation, resets for
/// segments nobody owns, and the timer tick. Everything runs under the stack's lock. Both IP families share it: a
/// four-tuple holds <see cref="IpAddress"/> values, and a listener on a port takes IPv4 and IPv6 SYNs alike, so the port
/// grant that allowed the listen covers both (the family-specific parts are in <c>TcpLayer.Family.cs</c>).
/// </summary>
public sealed partial class TcpLayer
{
    private readonly NetworkStack _stack;
    private readonly Dictionary<(IpEndpoint Local, IpEndpoint Remote), TcpConnection> _connections = new();
    private readonly Dictionary<ushort, TcpListener> _listeners = new();
    private int _nextEphemeral = Random.Shared.Next(0, 16384);

    internal TcpLayer(NetworkStack stack)
    {
        _stack = stack;
        _closedPortResets = new IcmpRateLimiter<IpAddress>(stack.Options);
    }

    internal NetworkStack Stack => _stack;

    internal SynCookies Cookies { get; } = new();

    public IReadOnlyList<TcpConnectionInfo> Connections
    {
        get { lock (_stack.Gate) return _connections.Values.Select(c => c.Info).OrderBy(c => c.Local.Port).ThenBy(c => c.Remote.Port).ToList(); }
    }

    public IReadOnlyList<IpEndpoint> Listeners
    {
        get { lock (_stack.Gate) return _listeners.Values.Select(l => new IpEndpoint(Ipv4Address.Any, l.Port)).ToList(); }
    }

    /// <summary>The listener on <paramref name="port"/>, if any.</summary>
    internal TcpListener? ListenerOn(ushort port) { lock (_stack.Gate) return _listeners.GetValueOrDefault(port); }

    /// <summary>Listens on <paramref name="port"/> on every address. The socket layer checks the port capability first.</summary>
    public Result<TcpListener> Listen(ushort port, int backlog = 128)
    {
        if (port == 0) return Errors.Of(ErrorCode.InvalidArgument, "cannot listen on port 0");
        if (backlog is < 1 or > 65535) return Errors.Of(ErrorCode.InvalidArgument, "backlog must be 1..65535");
        lock (_stack.Gate)
        {
            if (_listeners.ContainsKey(port)) return Errors.Of(ErrorCode.AddressInUse, $"TCP port {port} is listening");
            var l = new TcpListener(this, port, backlog);
            _listeners[port] = l;
            return l;
        }
    }

    internal void RemoveListener(TcpListener l)
    {
        if (_listeners.TryGetValue(l.Port, out var x) && x == l) _listeners.Remove(l.Port);
    }

    /// <summary>Opens a connection (active open) and completes when it is established, refused, or timed out. With an
    /// <paramref name="account"/> the connection's ephemeral port and buffers are the tenant's (QuotaExceeded at its
    /// ephemeral port limit).</summary>
    public Task<Result<TcpConnection>> ConnectAsync(IpEndpoint remote, CancellationToken ct = default) => ConnectAsync(remote, null, ct);

    internal async Task<Result<TcpConnection>> ConnectAsync(IpEndpoint remote, Sockets.SocketAccount? account, CancellationToken ct = default)
    {
        if (remote.Port == 0 || !IsUnicast(remote.Address)) return Errors.Of(ErrorCode.InvalidArgument, $"cannot connect to {remote}");
        TcpConnection c;
        lock (_stack.Gate)
        {
            if (SourceFor(remote.Address) is not { } source) return Errors.Of(ErrorCode.Unreachable, $"no route to {remote.Address}");
            ushort port = 0;
            for (int i = 0; i < 16384 && port == 0; i++)
            {
                var candidate = (ushort)(49152 + (_nextEphemeral++ & 16383));
                if (!_listeners.ContainsKey(candidate) && !_connections.ContainsKey((new IpEndpoint(source, candidate), remote))) port = candidate;
            }
            if (port == 0) return Errors.Of(ErrorCode.AddressInUse, "no free ephemeral TCP port");
            if (account?.TakeEphemeralPort() is { IsOk: false } refused) return refused.Error;
            c = new TcpConnection(this, new IpEndpoint(source, port), remote, null);
            if (account is not null) c.ChargeTo(account, ephemeralPort: true);
            _connections[(c.Local, c.Remote)] = c;
            c.OpenActive();
            _stack.Count(Counter.TcpActiveOpens);
        }
        await _stack.FlushAsync().ConfigureAwait(false);
        using var reg = ct.Register(() =>
        {
            lock (_stack.Gate) c.Fail(Errors.Of(ErrorCode.Cancelled, "connect cancelled"), sendReset: true);
            _ = _stack.FlushAsync(); // the RST goes out now, not with the next frame
        });
        var r = await c.Established.ConfigureAwait(false);
        await _stack.FlushAsync().ConfigureAwait(false);
        return r.IsOk ? c : r.Error;
    }

    internal void Remove(TcpConnection c)
    {
        if (_connections.TryGetValue((c.Local, c.Remote), out var x) && x == c) _connections.Remove((c.Local, c.Remote));
    }

    internal static SeqNumber NewIss() => new(BinaryPrimitives.ReadUInt32LittleEndian(RandomNumberGenerator.GetBytes(4)));

    /// <summary>A segment from IPv4 or IPv6; <paramref name="checksumVerified"/>: the NIC vouched for its checksum
    /// (receive checksum offload), so it is not verified again.</summary>
    internal void Handle(IpAddress src, IpAddress dst, ReadOnlySpan<byte> t, bool checksumVerified = false)
    {
        if (!TcpRepr.TryParse(t, src, dst, out var seg, out var why, verifyChecksum: !checksumVerified)) { _stack.Count(why); return; }
        if (checksumVerified) _stack.Count(Counter.TcpChecksumsVerifiedByNic);
        else _stack.Count(Counter.TcpChecksumBytesVerifiedSoftware, t.Length);
        if (!IsUnicast(src) || !IsUnicast(dst)) { _stack.Count(DropReason.MartianSource); return; }
        _stack.Count(Counter.TcpSegmentsIn);
        var local = new IpEndpoint(dst, seg.DestinationPort);
        var remote = new IpEndpoint(src, seg.SourcePort);
        if (_connections.TryGetValue((local, remote), out var c))
        {
            // A new SYN for a four-tuple in TIME_WAIT may reopen it (RFC 9293 §3.10.7.4 permits it when the sequence moves on).
            if (c.State == TcpState.TimeWait && seg.Has(TcpFlags.Syn) && !seg.Has(TcpFlags.Ack) && seg.Seq > c.ReceiveNext
                && _listeners.TryGetValue(local.Port, out var reopen))
            {
                c.Destroy();
                reopen.OnSyn(seg, local, remote);
                return;
            }
            c.OnSegment(seg);
            return;
        }
        if (_listeners.TryGetValue(local.Port, out var listener))
        {
            if (seg.Has(TcpFlags.Rst)) return;
            if (seg.Has(TcpFlags.Ack))
            {
                // An ACK for a connection we do not have: the end of a SYN-cookie handshake, or stray (reset it).
                if (seg.Has(TcpFlags.Syn) || !listener.TryCompleteCookieHandshake(seg, local, remote)) SendReset(seg);
                return;
            }
            if (seg.Has(TcpFlags.Syn)) listener.OnSyn(seg, local, remote);
            return;
        }
        _stack.Count(DropReason.NoSocket);
        // A closed port's reset is rate-limited per source, as ICMP errors are: a scan or a spoofed flood must not make
        // the stack a reflector (issue #15).
        if (seg.Has(TcpFlags.Rst)) return;
        if (!_closedPortResets.TryTake(src, _stack.Now)) { _stack.Count(Counter.TcpResetsRateLimited); return; }
        SendReset(seg);
    }

    internal void Register(TcpConnection c) => _connections[(c.Local, c.Remote)] = c;

    /// <summary>RFC 9293 reset generation for a segment no connection accepts.</summary>
    internal void SendReset(in TcpRepr seg)
    {
        if (seg.Has(TcpFlags.Rst)) return;
        var local = new IpEndpoint(seg.Destination, seg.DestinationPort);
        var remote = new IpEndpoint(seg.Source, seg.SourcePort);
        if (seg.Has(TcpFlags.Ack)) Send(local, remote, new TcpRepr { Seq = seg.Ack, Flags = TcpFlags.Rst });
        else Send(local, remote, new TcpRepr { Ack = seg.Seq + seg.Length, Flags = TcpFlags.Rst | TcpFlags.Ack });
        _stack.Count(Counter.TcpResetsSent);
    }

    /// <summary>Builds and sends one segment: <paramref name="header"/>'s fields and options (its ports are filled in
    /// from the endpoints), then <paramref name="fromLength"/> bytes of <paramref name="from"/> starting at
    /// <paramref name="fromOffset"/> — copied once, straight from the socket buffer into the frame. On a NIC with checksum
    /// offload the checksum is left partial for the NIC to finish; with <paramref name="segmentSize"/> set and a payload
    /// larger than it (the caller checked the NIC does TSO), the NIC sends it as segments of that size.</summary>
    internal void Send(IpEndpoint local, IpEndpoint remote, TcpRepr header, ByteRing? from = null, int fromOffset = 0, int fromLength = 0,
        int segmentSize = 0)
    {
        header.SourcePort = local.Port;
        header.DestinationPort = remote.Port;
        if (remote.Address.IsV6) { Send6(local, remote, header, from, fromOffset, fromLength, segmentSize); return; }
        int headerLength = header.HeaderLength;
        var offloads = _stack.RouteTo(remote.Address.V4)?.Nic.Offloads ?? NetworkOffloads.None;
        // A device that gathers takes the payload where it lies in the send buffer: the frame is only the headers.
        bool gather = from is not null && fromLength > 0 && (offloads & GatherWithChecksum) == GatherWithChecksum
            && from.CanGatherByReference(fromOffset, fromLength); // else (unleased lent bytes, or more than two pieces) copied into the frame
        // EmitSegment copies every payload byte over the uncleared part.
        var frame = gather ? Ipv4Frame.NewForPayload(headerLength, headerLength)
            : Ipv4Frame.NewForPayload(headerLength + fromLength, from is null ? headerLength + fromLength : headerLength);
        var segment = Ipv4Frame.Transport(frame);
        var payload = EmitOrLend(segment, header, from, fromOffset, fromLength, gather);
        TxOffload offload = default;
        if ((offloads & NetworkOffloads.TcpChecksum) != 0)
        {
            TcpRepr.FillPartialChecksum(segment, local.Address, remote.Address, headerLength + fromLength);
            bool tso = segmentSize > 0 && fromLength > segmentSize && (offloads & NetworkOffloads.TcpSegmentation) != 0;
            offload = new TxOffload((ushort)Ipv4Frame.TransportAt, TcpRepr.ChecksumOffset,
                tso ? (ushort)segmentSize : (ushort)0, tso ? (ushort)(Ipv4Frame.TransportAt + headerLength) : (ushort)0);
            _stack.Count(Counter.TcpChecksumsOffloaded);
            if (tso) _stack.Count(Counter.TcpSegmentationOffloads);
        }
        else
        {
            TcpRepr.FillChecksum(segment, local.Address, remote.Address);
            _stack.Count(Counter.TcpChecksumBytesSoftware, segment.Length);
        }
        if (_stack.Ipv4.Send(local.Address.V4, remote.Address.V4, IpProtocol.Tcp, frame, payload, dontFragment: true, offload: offload)) _stack.Count(Counter.TcpSegmentsOut);
    }

    private const NetworkOffloads GatherWithChecksum = NetworkOffloads.ScatterGather | NetworkOffloads.TcpChecksum;

    /// <summary>Writes the segment's header and returns its payload lent from the send buffer when the device gathers
    /// (<paramref name="gather"/>); otherwise copies the payload after the header and returns none. Both families.</summary>
    private TxPayload EmitOrLend(Span<byte> segment, TcpRepr header, ByteRing? from, int fromOffset, int fromLength, bool gather)
    {
        if (!gather)
        {
            EmitSegment(segment, header, from, fromOffset, fromLength);
            return default;
        }
        header.EmitHeader(segment);
        _stack.Count(Counter.TcpPayloadBytesByReference, fromLength);
        var payload = from!.PeekByReference(fromOffset, fromLength);
        if (payload.Lease is not null) _stack.Count(Counter.TcpLentBytesByReference, fromLength - Math.Clamp(from.Count - from.LentBytes - fromOffset, 0, fromLength));
        return payload;
    }

    private void EmitSegment(Span<byte> segment, TcpRepr header, ByteRing? from, int fromOffset, int fromLength)
    {
        header.EmitHeader(segment);
        from?.Peek(fromOffset, segment.Slice(segment.Length - fromLength, fromLength));
        _stack.Count(Counter.TcpPayloadBytesCopiedOut, fromLength);
    }

    /// <summary>The largest payload one send may hand the NIC towards <paramref name="remote"/>: a run of whole
    /// <paramref name="mss"/>-sized segments up to 64 KiB when the NIC does TSO, else one segment.</summary>
    internal int MaxSendPayload(IpEndpoint remote, int mss)
    {
        if (remote.Address.IsV6)
        {
            var offloads6 = _stack.Ipv6.RouteTo(remote.Address.V6)?.Nic.Offloads ?? NetworkOffloads.None;
            if ((offloads6 & NetworkOffloads.Tcp6Segmentation) == 0) return mss;
            const int maxTcp6Packet = ushort.MaxValue - 60; // IPv6's payload length leaves out its own header; 60: the largest TCP header
            return Math.Max(mss, maxTcp6Packet / mss * mss);
        }
        var offloads = _stack.RouteTo(remote.Address.V4)?.Nic.Offloads ?? NetworkOffloads.None;
        if ((offloads & NetworkOffloads.TcpSegmentation) == 0) return mss;
        const int maxTcpPacket = ushort.MaxValue - Ipv4Packet.HeaderLength - 60; // 60: the largest TCP header
        return Math.Max(mss, maxTcpPacket / mss * mss);
    }

    /// <summary>ICMP destination unreachable quoting one of our segments: a hard error for a connection still opening.</summary>
    internal void HandleUnreachable(in Ipv4Packet quoted)
    {
        if (!TcpRepr.TryReadQuotedPorts(quoted.Payload, out var sourcePort, out var destinationPort)) return;
        var local = new IpEndpoint(quoted.Source, sourcePort);
        var remote = new IpEndpoint(quoted.Destination, destinationPort);
        if (_connections.TryGetValue((local, remote), out var c) && c.State == TcpState.SynSent)
            c.Fail(Errors.Of(ErrorCode.Unreachable, $"{remote} is unreachable (ICMP)"), sendReset: false);
    }

    /// <summary>Connections owed an ACK at the end of the receive burst being processed (see
    /// <see cref="FlushBurstAcks"/>).</summary>
    private readonly List<TcpConnection> _burstAcks = new();

    internal void AckAtBurstEnd(TcpConnection c) => _burstAcks.Add(c);

    /// <summary>Sends the ACKs the burst just processed earned: one per connection for all the in-order data it
    /// brought, as Linux does after GRO merged a burst, instead of one per two segments — a 32-frame burst of one flow
    /// costs the NIC one ACK frame, not sixteen (issue #17: the guest's receive path, measured).</summary>
    internal void FlushBurstAcks()
    {
        if (_burstAcks.Count == 0) return;
        foreach (var c in _burstAcks) c.SendBurstAck();
        _burstAcks.Clear();
    }

    internal void Tick(TimeSpan now)
    {
        if (_connections.Count == 0) return;
        foreach (var c in _connections.Values.ToList()) c.Tick(now);
    }

    internal void AbortAll()
    {
        foreach (var c in _connections.Values.ToList()) c.Fail(Errors.Of(ErrorCode.Closed, "stack shut down"), sendReset: true);
        foreach (var l in _listeners.Values.ToList()) l.CloseLocked();
    }
}
