using System.Buffers.Binary;

namespace Photon.Net.Udp;

public sealed record UdpDatagram(IpEndpoint From, IpEndpoint To, byte[] Data);

/// <summary>UDP (RFC 768): port demultiplexing, checksums (verified when present), ICMP port unreachable for closed
/// ports, and bounded per-socket receive queues (overflow is dropped and counted, like a full socket buffer).</summary>
public sealed class UdpLayer
{
    private const byte ProtoUdp = 17;
    private readonly NetworkStack _stack;
    private readonly Dictionary<ushort, UdpSocket> _sockets = new();
    private int _nextEphemeral = Random.Shared.Next(49152, 65536);

    internal UdpLayer(NetworkStack stack) => _stack = stack;

    /// <summary>Binds <paramref name="port"/> (0 picks an ephemeral port). The socket layer checks the capability first.</summary>
    public Result<UdpSocket> Bind(ushort port)
    {
        lock (_stack.Gate)
        {
            if (port == 0)
            {
                for (int i = 0; i < 16384 && port == 0; i++)
                {
                    var candidate = (ushort)(49152 + (_nextEphemeral++ & 16383));
                    if (!_sockets.ContainsKey(candidate)) port = candidate;
                }
                if (port == 0) return Errors.Of(ErrorCode.AddressInUse, "no free ephemeral UDP port");
            }
            if (_sockets.ContainsKey(port)) return Errors.Of(ErrorCode.AddressInUse, $"UDP port {port} is bound");
            var s = new UdpSocket(this, _stack, port);
            _sockets[port] = s;
            return s;
        }
    }

    internal void Unbind(UdpSocket s)
    {
        lock (_stack.Gate) if (_sockets.TryGetValue(s.Port, out var bound) && bound == s) _sockets.Remove(s.Port);
    }

    public IReadOnlyList<UdpSocket> Sockets { get { lock (_stack.Gate) return _sockets.Values.ToList(); } }

    internal void Handle(NetInterface nic, Ipv4Address src, Ipv4Address dst, ReadOnlySpan<byte> u, bool broadcast)
    {
        if (u.Length < 8) { _stack.Count(DropReason.Truncated); return; }
        int length = BinaryPrimitives.ReadUInt16BigEndian(u[4..]);
        if (length < 8 || length > u.Length) { _stack.Count(DropReason.BadLength); return; }
        u = u[..length];
        if (BinaryPrimitives.ReadUInt16BigEndian(u[6..]) != 0 // zero means "no checksum" in IPv4
            && InternetChecksum.Transport(src, dst, ProtoUdp, u) != 0)
        { _stack.Count(DropReason.BadChecksum); return; }
        ushort srcPort = BinaryPrimitives.ReadUInt16BigEndian(u);
        ushort dstPort = BinaryPrimitives.ReadUInt16BigEndian(u[2..]);
        _stack.Count(Counter.UdpDatagramsIn);
        if (!_sockets.TryGetValue(dstPort, out var socket))
        {
            _stack.Count(DropReason.NoSocket);
            if (!broadcast) QuoteUnreachable(src, dst, u);
            return;
        }
        socket.Deliver(new UdpDatagram(new IpEndpoint(src, srcPort), new IpEndpoint(dst, dstPort), u[8..].ToArray()));
    }

    private void QuoteUnreachable(Ipv4Address src, Ipv4Address dst, ReadOnlySpan<byte> u)
    {
        // Rebuild the offending IP header for the quote (RFC 792: header + first 8 bytes).
        Span<byte> quote = stackalloc byte[28];
        quote[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(quote[2..], (ushort)(20 + u.Length));
        quote[8] = 64;
        quote[9] = ProtoUdp;
        src.Write(quote[12..]);
        dst.Write(quote[16..]);
        u[..8].CopyTo(quote[20..]);
        _stack.SendIcmpError(3, 3, src, quote);
    }

    internal Result Send(ushort sourcePort, IpEndpoint to, ReadOnlySpan<byte> data)
    {
        if (data.Length > 65507) return Errors.Of(ErrorCode.InvalidArgument, "a UDP datagram carries at most 65,507 bytes");
        if (to.Port == 0) return Errors.Of(ErrorCode.InvalidArgument, "destination port 0");
        if (_stack.SourceFor(to.Address) is not { } source) return Errors.Of(ErrorCode.Unreachable, $"no route to {to.Address}");
        var frame = NetworkStack.NewFrame(8 + data.Length);
        var u = frame.AsSpan(34);
        BinaryPrimitives.WriteUInt16BigEndian(u, sourcePort);
        BinaryPrimitives.WriteUInt16BigEndian(u[2..], to.Port);
        BinaryPrimitives.WriteUInt16BigEndian(u[4..], (ushort)(8 + data.Length));
        data.CopyTo(u[8..]);
        ushort sum = InternetChecksum.Transport(source, to.Address, ProtoUdp, u);
        BinaryPrimitives.WriteUInt16BigEndian(u[6..], sum == 0 ? (ushort)0xFFFF : sum);
        if (!_stack.SendIpv4(source, to.Address, ProtoUdp, frame)) return Errors.Of(ErrorCode.Unreachable, $"no route to {to.Address}");
        _stack.Count(Counter.UdpDatagramsOut);
        return Result.Ok;
    }
}

/// <summary>A bound UDP port.</summary>
public sealed class UdpSocket : IAsyncDisposable
{
    private readonly UdpLayer _layer;
    private readonly NetworkStack _stack;
    private readonly HandoffQueue<UdpDatagram> _queue;
    private bool _closed;

    internal UdpSocket(UdpLayer layer, NetworkStack stack, ushort port)
    {
        _layer = layer;
        _stack = stack;
        Port = port;
        _queue = new HandoffQueue<UdpDatagram>(stack.Options.UdpQueueDepth);
    }

    public ushort Port { get; }
    public int Queued { get { lock (_stack.Gate) return _queue.Count; } }

    internal void Deliver(UdpDatagram d)
    {
        if (!_queue.TryDeliver(d)) _stack.Count(DropReason.UdpQueueFull);
    }

    public async Task<Result> SendToAsync(IpEndpoint to, ReadOnlyMemory<byte> data)
    {
        Result r;
        lock (_stack.Gate) r = _closed ? Errors.Of(ErrorCode.Closed, "socket closed") : _layer.Send(Port, to, data.Span);
        await _stack.FlushAsync().ConfigureAwait(false);
        return r;
    }

    public async Task<Result<UdpDatagram>> ReceiveAsync(CancellationToken ct = default)
    {
        TaskCompletionSource<Result<UdpDatagram>> w;
        lock (_stack.Gate)
        {
            if (_queue.TryTake(out var d)) return d;
            if (_closed) return Errors.Of(ErrorCode.Closed, "socket closed");
            w = _queue.Wait();
        }
        return await HandoffQueue<UdpDatagram>.AwaitAsync(w, ct, "receive").ConfigureAwait(false);
    }

    public ValueTask DisposeAsync()
    {
        _layer.Unbind(this);
        lock (_stack.Gate)
        {
            _closed = true;
            _queue.FailWaiters(Errors.Of(ErrorCode.Closed, "socket closed"));
        }
        return ValueTask.CompletedTask;
    }
}
